"""The one module that imports the vendor SDK (``alibabacloud-rds20140815`` and its runtime).

It turns :class:`~rdsssl_reconcile.cloud.port.CloudClient` calls into SDK calls and SDK exceptions into
our error tree. Two secrets pass through here and must go no further:

* ``DescribeDBInstanceSSL`` returns the server's private key; :func:`redact_server_key` replaces it by
  its public-key fingerprint before the body is returned.
* ``ModifyDBInstanceSSL`` puts ``ServerKey`` in the URL query string, and transport errors from
  ``requests`` quote that URL. So errors are rebuilt from the API's code/message/request id only, and
  transport failures are described by kind (name resolution, refused, TLS, timed out, dropped), found
  from the exception types in the chain, never from their text. The new
  exception is raised outside the ``except`` block so the SDK's exception is not even its context.
  ``DEBUG=sdk`` (the SDK's request dump, URL included) is switched off for the same reason.

Importing this module is most of a cloud command's start-up (``benchmarks/bench_startup.py`` measures
it); the CLI imports it only in commands that call the cloud.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from rdsssl_reconcile.cloud.port import BUSY_CODES, MAX_PAGE_SIZE, RawBody
from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
from rdsssl_reconcile.cloud.target import Credentials, Target
from rdsssl_reconcile.errors import CloudError, PermanentCloudError, TargetError, TransientCloudError
from rdsssl_reconcile.pki.redaction import redact_server_key

# Before anything imports the SDK's client, which imports its models package whole: one module per
# model of the RDS API, 38% of the SDK's import. Each model is then imported when first used.
load_reexports_on_demand("alibabacloud_rds20140815.models")

from alibabacloud_credentials.client import Client as CredentialClient  # noqa: E402
from alibabacloud_credentials.exceptions import CredentialException  # noqa: E402
from alibabacloud_rds20140815 import models as rds_models  # noqa: E402
from alibabacloud_rds20140815.client import Client as RdsClient  # noqa: E402
from alibabacloud_tea_openapi import models as openapi_models  # noqa: E402
from alibabacloud_tea_openapi.exceptions import ServerException, ThrottlingException  # noqa: E402
from darabonba.runtime import RuntimeOptions  # noqa: E402

#: Wire name -> SDK request field of ModifyDBInstanceSSLRequest (API page "ModifyDBInstanceSSL").
_MODIFY_FIELDS = {
    "DBInstanceId": "dbinstance_id",
    "ConnectionString": "connection_string",
    "SSLEnabled": "sslenabled",
    "CAType": "catype",
    "ServerCert": "server_cert",
    "ServerKey": "server_key",
    "ClientCAEnabled": "client_caenabled",
    "ClientCACert": "client_cacert",
    "ClientCrlEnabled": "client_crl_enabled",
    "ClientCertRevocationList": "client_cert_revocation_list",
    "ACL": "acl",
    "ReplicationACL": "replication_acl",
}
_INTEGER_FIELDS = frozenset({"SSLEnabled", "ClientCAEnabled", "ClientCrlEnabled"})
_PAGE_SIZE = MAX_PAGE_SIZE


def _disable_sdk_request_dump() -> None:
    if os.environ.get("DEBUG", "").lower() == "sdk":
        # darabonba prints every request URL (ServerKey included) when DEBUG=sdk.
        os.environ.pop("DEBUG")
        sys.stderr.write("rdsssl-reconcile: ignoring DEBUG=sdk: it would print private keys.\n")


def _quiet_sdk_loggers() -> None:
    # The credential chain logs tracebacks for every provider it tries, and the HTTP layers may log
    # requests; neither belongs in our output (and a request line can carry ServerKey).
    for name in ("credentials", "darabonba-core", "alibabacloud-tea"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        logger.propagate = False


#: Credential-chain provider class -> what a user configures for it (alibabacloud-credentials 1.x names).
_CREDENTIAL_SOURCES = {
    "EnvironmentVariableCredentialsProvider": (
        "environment variables ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    ),
    "OIDCRoleArnCredentialsProvider": (
        "OIDC role (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE)"
    ),
    "CLIProfileCredentialsProvider": "Alibaba Cloud CLI profile (~/.aliyun/config.json)",
    "ProfileCredentialsProvider": (
        "credentials file (~/.alibabacloud/credentials.ini, or ALIBABA_CLOUD_CREDENTIALS_FILE)"
    ),
    "EcsRamRoleCredentialsProvider": "ECS instance RAM role (instance metadata service)",
    "URLCredentialsProvider": "credentials URI (ALIBABA_CLOUD_CREDENTIALS_URI)",
}
_NOT_TRIED_BECAUSE = {
    "OIDCRoleArnCredentialsProvider": "its three variables are not all set",
    "EcsRamRoleCredentialsProvider": "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true",
    "URLCredentialsProvider": "ALIBABA_CLOUD_CREDENTIALS_URI is not set",
}


def describe_credential_failure(message: str, target: str) -> str:
    """A whole, readable account of a failed credential chain: the target, each source tried and why not.

    The SDK's message is one line, ``unable to load credentials from any of the providers in the chain:
    ['Provider: reason', ...]``; it is parsed, never cut. Any other message is kept whole (first line).
    """
    tried: list[tuple[str, str]] = []
    _, _, listing = message.partition("providers in the chain:")
    try:
        entries = ast.literal_eval(listing.strip()) if listing else None
    except (ValueError, SyntaxError):
        entries = None
    if isinstance(entries, list):
        for entry in entries:
            provider, _, reason = str(entry).partition(": ")
            tried.append((provider, reason.splitlines()[0].strip() if reason.strip() else "no credentials"))
    lines = [f"no Alibaba Cloud credentials found for {target}."]
    if tried:
        lines.append("Sources tried, in order:")
        lines += [f"  - {_CREDENTIAL_SOURCES.get(p, p)}: {reason}" for p, reason in tried]
        names = {p for p, _ in tried}
        skipped = [f"{_CREDENTIAL_SOURCES[p]}: {why}" for p, why in _NOT_TRIED_BECAUSE.items() if p not in names]
        if skipped:
            lines.append("Not tried:")
            lines += [f"  - {entry}" for entry in skipped]
    else:
        first = message.strip().splitlines()[0] if message.strip() else "the credential chain failed"
        lines.append(f"The credential chain said: {first}")
    lines.append(
        "Set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or configure a profile, "
        "an instance role or OIDC."
    )
    return "\n".join(lines)


def _resolve_credential_chain(target: str) -> CredentialClient:
    client = CredentialClient()
    problem: str | None = None
    try:
        client.get_credential()
    except CredentialException as exc:
        problem = describe_credential_failure(str(exc.message), target)
    except Exception as exc:  # noqa: BLE001 - providers may raise anything; only its type is shown
        problem = describe_credential_failure(f"a credential provider raised {type(exc).__name__}", target)
    if problem is not None:
        raise TargetError(problem)
    return client


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it: the SDK's ``inner_exception``, ``raise from``, urllib3's
    ``reason`` and exceptions passed as arguments (requests wraps urllib3's error that way)."""
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(found) < 32:
        current = pending.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        for attr in ("inner_exception", "reason", "__cause__", "__context__"):
            nested = getattr(current, attr, None)
            if isinstance(nested, BaseException):
                pending.append(nested)
        pending += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]
    return found


def _is_kind(chain: Sequence[BaseException], *names: str) -> bool:
    """Whether any exception in ``chain`` is (a subclass of) a class with one of these names.

    By name, so that urllib3's and requests' classes need no import of their own here."""
    return any(cls.__name__ in names for exc in chain for cls in type(exc).__mro__)


def _transport_kind(exc: BaseException, target: str) -> tuple[str, str, bool]:
    """Classify a transport failure by exception type, never by its text (it may quote the request URL).

    Returns (code, description naming ``target``, transient?).
    """
    chain = _exception_chain(exc)
    dns = [e for e in chain if isinstance(e, socket.gaierror)]
    if dns or _is_kind(chain, "NameResolutionError"):
        # EAI_AGAIN is a resolver that could not answer now; anything else means the name does not exist.
        temporary = any(e.errno == socket.EAI_AGAIN for e in dns)
        checked = "the region" if target.startswith("Alibaba Cloud region") else "the host name"
        why = "the resolver did not answer" if temporary else f"check {checked}, the network and DNS"
        return "NameResolution", f"the host name of {target} could not be resolved ({why})", temporary
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "ConnectionRefused", f"{target} refused the connection (nothing listens on that port?)", True
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain):
        return "TLSError", f"the TLS certificate of {target} could not be verified", False
    if any(isinstance(e, ssl.SSLEOFError) for e in chain):
        return "TLSError", f"{target} closed the connection during the TLS handshake", True
    if any(isinstance(e, ssl.SSLError) for e in chain) or _is_kind(chain, "SSLError"):
        return (
            "TLSError",
            f"the TLS handshake with {target} failed (does it speak TLS? a plain-HTTP endpoint needs http://)",
            False,
        )
    if _is_kind(chain, "ConnectTimeout", "ConnectTimeoutError"):
        return "Timeout", f"connecting to {target} timed out", True
    if _is_kind(chain, "Timeout", "TimeoutError", "ReadTimeoutError"):
        return "Timeout", f"{target} did not answer before the read timeout", True
    if any(isinstance(e, json.JSONDecodeError) for e in chain):
        # darabonba fails to parse a body that is not JSON (an empty 404, an HTML page): the server
        # answered, so retrying will not help, and "connection dropped" would mislead.
        return (
            "BadResponse",
            f"{target} answered with something that is not the RDS API's JSON (is it an RDS API endpoint?)",
            False,
        )
    return "ConnectionDropped", f"the connection to {target} was dropped before a response arrived", True


def _classify(exc: BaseException, action: str, target: str) -> CloudError:
    """Our error for an SDK exception; ``target`` names where the call went (for transport failures)."""
    code = getattr(exc, "code", None)
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    request_id = getattr(exc, "request_id", None)
    data = getattr(exc, "data", None)
    message = ""
    if isinstance(data, dict):
        message = str(data.get("Message") or data.get("message") or "")
    if isinstance(status, int) and code not in (None, "None"):
        common: dict[str, Any] = {"code": str(code), "action": action, "status": status, "request_id": request_id}
        text = message or f"HTTP {status}"
        if isinstance(exc, ThrottlingException):
            retry_after = getattr(exc, "retry_after", None)
            seconds = float(retry_after) / 1000 if isinstance(retry_after, int | float) and retry_after > 0 else None
            return TransientCloudError(text, retry_after=seconds, **common)
        if (
            isinstance(exc, ServerException)
            or status >= 500
            or str(code).startswith(("Throttling", "ServiceUnavailable"))
        ):
            return TransientCloudError(text, **common)
        if str(code) in BUSY_CODES:
            return TransientCloudError(text, **common)
        return PermanentCloudError(text, **common)
    if isinstance(status, int) and status >= 400:
        # An error response without a usable code (non-JSON body): treat 5xx as transient.
        common = {"code": f"HTTP{status}", "action": action, "status": status, "request_id": request_id}
        cls = TransientCloudError if status >= 500 else PermanentCloudError
        return cls(f"HTTP {status} without an error code", **common)
    kind, description, transient = _transport_kind(exc, target)
    error = TransientCloudError if transient else PermanentCloudError
    return error(description, code=kind, action=action)


class SdkCloudClient:
    """:class:`~rdsssl_reconcile.cloud.port.CloudClient` over the official SDK.

    One SDK client per region for Alibaba Cloud (each region has its endpoint), one in total for an
    emulator. SDK clients are created lazily and shared between worker threads (the SDK keeps a
    connection pool per host).
    """

    def __init__(self, target: Target, *, timeout_seconds: float = 10.0, connect_timeout_seconds: float = 5.0) -> None:
        _disable_sdk_request_dump()
        _quiet_sdk_loggers()
        self.target = target
        self._clients: dict[str, RdsClient] = {}
        self._lock = threading.Lock()
        self._runtime = RuntimeOptions(
            read_timeout=int(timeout_seconds * 1000),
            connect_timeout=int(connect_timeout_seconds * 1000),
            max_idle_conns=64,
        )
        self._credential_client: CredentialClient | None = None
        if target.credentials is None:
            # Resolve the chain now, once, in this thread: a missing credential is a clear user error
            # before any work starts, not one failure per instance from inside worker threads.
            self._credential_client = _resolve_credential_chain(target.describe())

    def _credentials(self) -> dict[str, Any]:
        creds: Credentials | None = self.target.credentials
        if creds is not None:
            values: dict[str, Any] = {
                "access_key_id": creds.access_key_id,
                "access_key_secret": creds.access_key_secret,
            }
            if creds.security_token:
                values.update(security_token=creds.security_token, type="sts")
            return values
        if self._credential_client is None:
            self._credential_client = _resolve_credential_chain(self.target.describe())
        return {"credential": self._credential_client}

    def _target_label(self, region_id: str) -> str:
        """Where a call for ``region_id`` goes, in the words a transport error uses."""
        if self.target.endpoint:
            return f"endpoint {self.target.endpoint}"
        return f"Alibaba Cloud region {region_id} endpoint"

    def _client(self, region_id: str) -> RdsClient:
        key = "emulator" if self.target.endpoint else region_id
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                config: dict[str, Any] = {"region_id": region_id, **self._credentials()}
                if self.target.endpoint:
                    parts = urlsplit(self.target.endpoint)
                    config.update(endpoint=parts.netloc, protocol=parts.scheme)
                client = RdsClient(openapi_models.Config(**config))
                self._clients[key] = client
            return client

    def _call(self, action: str, region_id: str, invoke: Callable[[RdsClient], Any]) -> RawBody:
        client = self._client(region_id)
        failure: CloudError | None = None
        try:
            response = invoke(client)
        except Exception as exc:  # noqa: BLE001 - the SDK and its transports raise many unrelated types
            failure = _classify(exc, action, self._target_label(region_id))
        if failure is not None:
            raise failure
        body = response.body.to_map() if response.body is not None else {}
        return dict(body)

    # -- CloudClient -------------------------------------------------------------------------------------

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = _PAGE_SIZE,
    ) -> RawBody:
        request = rds_models.DescribeDBInstancesRequest(
            region_id=region_id,
            dbinstance_id=",".join(instance_ids) or None,
            engine=engine,
            page_size=page_size,
            page_number=page_number,
        )
        return self._call(
            "DescribeDBInstances",
            region_id,
            lambda c: c.describe_dbinstances_with_options(request, self._runtime),
        )

    def describe_instance(self, region_id: str, instance_id: str) -> RawBody:
        request = rds_models.DescribeDBInstanceAttributeRequest(dbinstance_id=instance_id)
        body = self._call(
            "DescribeDBInstanceAttribute",
            region_id,
            lambda c: c.describe_dbinstance_attribute_with_options(request, self._runtime),
        )
        entries = (body.get("Items") or {}).get("DBInstanceAttribute") or []
        if not entries:
            raise PermanentCloudError(
                f"instance {instance_id} not found",
                code="InvalidDBInstanceId.NotFound",
                action="DescribeDBInstanceAttribute",
            )
        return dict(entries[0])

    def describe_net_info(self, region_id: str, instance_id: str) -> RawBody:
        request = rds_models.DescribeDBInstanceNetInfoRequest(dbinstance_id=instance_id)
        return self._call(
            "DescribeDBInstanceNetInfo",
            region_id,
            lambda c: c.describe_dbinstance_net_info_with_options(request, self._runtime),
        )

    def describe_ssl(self, region_id: str, instance_id: str) -> RawBody:
        request = rds_models.DescribeDBInstanceSSLRequest(dbinstance_id=instance_id)
        body = self._call(
            "DescribeDBInstanceSSL",
            region_id,
            lambda c: c.describe_dbinstance_sslwith_options(request, self._runtime),
        )
        return redact_server_key(body)

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        fields: dict[str, Any] = {}
        for name, value in parameters.items():
            field_name = _MODIFY_FIELDS.get(name)
            if field_name is None:
                raise ValueError(f"unsupported ModifyDBInstanceSSL parameter {name!r}")
            fields[field_name] = int(value) if name in _INTEGER_FIELDS else value
        request = rds_models.ModifyDBInstanceSSLRequest(**fields)
        body = self._call(
            "ModifyDBInstanceSSL",
            region_id,
            lambda c: c.modify_dbinstance_sslwith_options(request, self._runtime),
        )
        return str(body.get("RequestId", ""))


def raw_sdk_client(
    host_port: str,
    access_key_id: str,
    access_key_secret: str,
    *,
    security_token: str | None = None,
    read_timeout_ms: int = 10_000,
) -> RdsClient:
    """An unwrapped official SDK client for an emulator at ``host_port`` (plain HTTP).

    Tests and benchmarks drive the SDK itself with it. ``host:port`` carries no scheme: with one, the
    SDK signs a literal ``http://...`` host header (``compose_url`` in the SDK's source).
    """
    config: dict[str, Any] = {
        "access_key_id": access_key_id,
        "access_key_secret": access_key_secret,
        "endpoint": host_port,
        "protocol": "http",
        "read_timeout": read_timeout_ms,
        "connect_timeout": 5_000,
    }
    if security_token:
        config.update(security_token=security_token, type="sts")
    return RdsClient(openapi_models.Config(**config))

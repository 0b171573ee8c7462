"""The one module that imports the vendor SDK (``alibabacloud-rds20140815`` and its runtime).

It turns :class:`~rdsssl_reconcile.cloud.port.CloudClient` calls into SDK calls and SDK exceptions into
our error tree. Two secrets pass through here and must go no further:

* ``DescribeDBInstanceSSL`` returns the server's private key; :func:`redact_server_key` replaces it by
  its public-key fingerprint before the body is returned.
* ``ModifyDBInstanceSSL`` puts ``ServerKey`` in the URL query string, and transport errors from
  ``requests`` quote that URL. So errors are rebuilt from the API's code/message/request id only, and
  transport failures are described by kind (refused, timed out, dropped), never by their text. The new
  exception is raised outside the ``except`` block so the SDK's exception is not even its context.
  ``DEBUG=sdk`` (the SDK's request dump, URL included) is switched off for the same reason.

Importing this module costs about half a second (measured on a development machine); the CLI imports it only in commands
that call the cloud.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_rds20140815 import models as rds_models
from alibabacloud_rds20140815.client import Client as RdsClient
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.exceptions import ServerException, ThrottlingException
from darabonba.runtime import RuntimeOptions

from rdsssl_reconcile.cloud.port import BUSY_CODES, MAX_PAGE_SIZE, RawBody
from rdsssl_reconcile.cloud.target import Credentials, Target
from rdsssl_reconcile.errors import CloudError, PermanentCloudError, TargetError, TransientCloudError
from rdsssl_reconcile.live.parse import redact_server_key

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


def _resolve_credential_chain() -> CredentialClient:
    client = CredentialClient()
    problem: str | None = None
    try:
        client.get_credential()
    except CredentialException as exc:
        problem = str(exc.message).splitlines()[0][:300]
    except Exception as exc:  # noqa: BLE001 - providers may raise anything; only its type is shown
        problem = type(exc).__name__
    if problem is not None:
        raise TargetError(
            "no Alibaba Cloud credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, "
            f"or configure a profile, an instance role or OIDC ({problem})"
        )
    return client


def _transport_kind(exc: BaseException) -> tuple[str, str]:
    """Classify a transport failure without ever echoing its text (it may contain the request URL)."""
    text = f"{type(exc).__name__} {getattr(exc, 'inner_exception', '')!r} {exc!r}".lower()
    if "timed out" in text or "timeout" in text:
        return "Timeout", "the call timed out"
    if "refused" in text:
        return "ConnectionRefused", "the connection was refused"
    if "failed to parse the value as json" in text:
        # The server answered, but not with the API's JSON (an empty 404, an HTML page): retrying
        # will not help, and "connection dropped" would send the user looking in the wrong place.
        return (
            "BadResponse",
            "the endpoint answered with something that is not the RDS API's JSON (is it an RDS API endpoint?)",
        )
    return "ConnectionDropped", "the connection was dropped before a response arrived"


def _classify(exc: BaseException, action: str, endpoint: str) -> CloudError:
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
    kind, description = _transport_kind(exc)
    error = PermanentCloudError if kind == "BadResponse" else TransientCloudError
    return error(f"{description} ({endpoint})", code=kind, action=action)


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
        self._endpoint_label = target.endpoint or "Alibaba Cloud"
        self._credential_client: CredentialClient | None = None
        if target.credentials is None:
            # Resolve the chain now, once, in this thread: a missing credential is a clear user error
            # before any work starts, not one failure per instance from inside worker threads.
            self._credential_client = _resolve_credential_chain()

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
            self._credential_client = _resolve_credential_chain()
        return {"credential": self._credential_client}

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
            failure = _classify(exc, action, self._endpoint_label)
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

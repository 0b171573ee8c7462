"""Transport failures through the real SDK name the failure and the target, never the URL they quote.

Each test points the official SDK at something that fails in one way: a name that cannot resolve (the
``.invalid`` top-level domain never does, RFC 6761), a port where nothing listens, a plain-HTTP server
spoken to over TLS, and a server that never answers. ``ModifyDBInstanceSSL`` carries ``ServerKey`` in
its query string, so the messages must not quote the request.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rdsssl_reconcile.cloud.sdk import SdkCloudClient, describe_credential_failure
from rdsssl_reconcile.cloud.target import Credentials, Target
from rdsssl_reconcile.errors import CloudError, PermanentCloudError, TransientCloudError

SECRET = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-not-a-real-key"


def _client(endpoint: str, timeout: float = 5.0) -> SdkCloudClient:
    target = Target(kind="emulator", endpoint=endpoint, source="--endpoint", credentials=Credentials("ak", "sk"))
    return SdkCloudClient(target, timeout_seconds=timeout, connect_timeout_seconds=timeout)


def _modify_error(endpoint: str, timeout: float = 5.0) -> CloudError:
    parameters = {"DBInstanceId": "pgm-a", "SSLEnabled": "1", "CAType": "custom", "ServerKey": SECRET}
    with pytest.raises(CloudError) as raised:
        _client(endpoint, timeout).modify_ssl("cn-hangzhou", parameters)
    error = raised.value
    assert SECRET not in str(error)
    assert "ServerKey" not in str(error)
    assert error.__cause__ is None
    assert error.__context__ is None
    return error


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A plain-HTTP server that answers anything with an empty 200."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_an_unresolvable_host_is_a_name_resolution_error() -> None:
    error = _modify_error("http://nonexistent.invalid:1")
    assert error.code == "NameResolution"
    assert str(error).startswith("the host name of endpoint http://nonexistent.invalid:1 could not be resolved")


def test_a_closed_port_is_a_refused_connection() -> None:
    # Bound but not listening: the kernel refuses connections, and no other process can take the port.
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        error = _modify_error(f"http://127.0.0.1:{port}")
    assert isinstance(error, TransientCloudError)
    assert error.code == "ConnectionRefused"
    assert str(error) == f"endpoint http://127.0.0.1:{port} refused the connection (nothing listens on that port?)"


def test_tls_to_a_plain_http_endpoint_is_a_tls_error_not_retried(plain_http_port: int) -> None:
    error = _modify_error(f"https://127.0.0.1:{plain_http_port}")
    assert isinstance(error, PermanentCloudError)
    assert error.code == "TLSError"
    assert f"the TLS handshake with endpoint https://127.0.0.1:{plain_http_port} failed" in str(error)


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # the kernel completes the handshake; nobody ever reads or answers
        port = silent.getsockname()[1]
        error = _modify_error(f"http://127.0.0.1:{port}", timeout=0.3)
    assert isinstance(error, TransientCloudError)
    assert error.code == "Timeout"
    assert f"endpoint http://127.0.0.1:{port} did not answer" in str(error)


def test_an_alibaba_cloud_failure_names_the_region_endpoint() -> None:
    target = Target(kind="alibaba-cloud", endpoint=None, source="default", credentials=Credentials("ak", "sk"))
    assert SdkCloudClient(target)._target_label("cn-shanghai") == "Alibaba Cloud region cn-shanghai endpoint"


SDK_CHAIN_MESSAGE = (
    "unable to load credentials from any of the providers in the chain: ['EnvironmentVariableCredentialsProvider: "
    "Environment variable accessKeyId cannot be empty', 'CLIProfileCredentialsProvider: unable to open credentials "
    "file: /h/.aliyun/config.json', 'ProfileCredentialsProvider: failed to get credential from credentials file: "
    "$/h/.alibabacloud/credentials.ini']"
)


def test_the_credential_failure_lists_every_source_whole() -> None:
    text = describe_credential_failure(SDK_CHAIN_MESSAGE, "Alibaba Cloud (regional RDS endpoints)")
    lines = text.splitlines()
    assert lines[0] == "no Alibaba Cloud credentials found for Alibaba Cloud (regional RDS endpoints)."
    assert (
        "  - credentials file (~/.alibabacloud/credentials.ini, or ALIBABA_CLOUD_CREDENTIALS_FILE): "
        "failed to get credential from credentials file: $/h/.alibabacloud/credentials.ini"
    ) in lines
    assert any(line.startswith("  - environment variables ALIBABA_CLOUD_ACCESS_KEY_ID") for line in lines)
    assert any(line.startswith("  - OIDC role") for line in lines[lines.index("Not tried:") :])
    assert any(line.startswith("  - ECS instance RAM role") for line in lines[lines.index("Not tried:") :])


def test_an_unparsable_credential_message_is_kept_whole() -> None:
    text = describe_credential_failure("something new and long " * 20, "emulator at http://h:1 (--endpoint)")
    assert ("something new and long " * 20).strip() in text
    assert "for emulator at http://h:1 (--endpoint)." in text


def test_the_real_credential_chain_failure_names_target_and_sources(tmp_path: Path) -> None:
    # A subprocess with a clean environment: the credentials library reads it once, at import.
    code = (
        "from rdsssl_reconcile.cloud.sdk import SdkCloudClient\n"
        "from rdsssl_reconcile.cloud.target import Target\n"
        "from rdsssl_reconcile.errors import TargetError\n"
        "try:\n"
        "    SdkCloudClient(Target(kind='alibaba-cloud', endpoint=None, source='default'))\n"
        "except TargetError as exc:\n"
        "    print(exc)\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    text = done.stdout
    assert text.startswith("no Alibaba Cloud credentials found for Alibaba Cloud (regional RDS endpoints).")
    assert f"failed to get credential from credentials file: ${tmp_path}/.alibabacloud/credentials.ini" in text
    assert "CLI profile (~/.aliyun/config.json): unable to open credentials file" in text
    assert "  - ECS instance RAM role (instance metadata service): ALIBABA_CLOUD_ECS_METADATA_DISABLED=true" in text

"""SDK failures become our errors without leaking what the SDK's own messages quote (URLs with ServerKey)."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest

from rdsssl_reconcile.cloud.sdk import _classify
from rdsssl_reconcile.errors import PermanentCloudError, TransientCloudError

KEY_IN_URL = "http://127.0.0.1:1/?ServerKey=-----BEGIN%20PRIVATE%20KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"


class FakeApiError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"code: {status}, {message} request id: R-1 url {KEY_IN_URL}")
        self.code = code
        self.status_code = status
        self.request_id = "R-1"
        self.data = {"Code": code, "Message": message, "RequestId": "R-1"}


def _wrapped(cause: BaseException) -> BaseException:
    """What the SDK raises: an outer error quoting the full URL (query string included), caused by ``cause``."""
    outer = OSError(f"HTTPConnectionPool: Max retries exceeded with url: {KEY_IN_URL}")
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("cause", "code", "transient"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "NameResolution", False),
        (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), "NameResolution", True),
        (ConnectionRefusedError(111, f"Connection refused {KEY_IN_URL}"), "ConnectionRefused", True),
        (ssl.SSLError(1, f"[SSL: WRONG_VERSION_NUMBER] {KEY_IN_URL}"), "TLSError", False),
        (ssl.SSLCertVerificationError(1, f"certificate verify failed {KEY_IN_URL}"), "TLSError", False),
        (TimeoutError(f"Read timed out. (read timeout=10) url: {KEY_IN_URL}"), "Timeout", True),
        (http.client.RemoteDisconnected(f"Remote end closed connection {KEY_IN_URL}"), "ConnectionDropped", True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_transport_errors_are_classified_by_type_without_their_text(
    cause: BaseException, code: str, transient: bool
) -> None:
    error = _classify(_wrapped(cause), "ModifyDBInstanceSSL", "endpoint http://127.0.0.1:1")
    assert isinstance(error, TransientCloudError) is transient
    assert error.code == code
    assert "endpoint http://127.0.0.1:1" in str(error)
    assert "PRIVATE" not in str(error)
    assert "ServerKey" not in str(error)
    assert error.__cause__ is None


def test_words_in_the_text_do_not_decide_the_kind() -> None:
    # "refused" or "timed out" inside a URL or a message must not turn a dropped connection into them.
    dropped = ConnectionResetError(104, "Connection reset by peer: refused, timed out, getaddrinfo failed")
    error = _classify(_wrapped(dropped), "DescribeDBInstanceSSL", "endpoint http://127.0.0.1:1")
    assert error.code == "ConnectionDropped"


def test_api_errors_keep_code_message_and_request_id_only() -> None:
    error = _classify(
        FakeApiError("InvalidServerCertOrPrivateKey", 400, "Specify server certificate or private key is invalid."),
        "ModifyDBInstanceSSL",
        "x",
    )
    assert isinstance(error, PermanentCloudError)
    assert (error.code, error.status, error.request_id) == ("InvalidServerCertOrPrivateKey", 400, "R-1")
    assert str(error) == "Specify server certificate or private key is invalid."


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("Throttling.User", 400, True),
        ("ServiceUnavailable", 503, True),
        ("InternalError", 500, True),
        ("IncorrectDBInstanceState", 403, True),
        ("IncorrectDBSslStatus", 400, True),
        ("InvalidDBInstanceId.NotFound", 404, False),
        ("InvalidACL.Permission", 403, False),
    ],
)
def test_retryability_is_decided_once(code: str, status: int, transient: bool) -> None:
    error = _classify(FakeApiError(code, status, "m"), "DescribeDBInstanceSSL", "x")
    assert isinstance(error, TransientCloudError) is transient


def test_an_unresolvable_region_endpoint_says_to_check_the_region() -> None:
    cause = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    error = _classify(_wrapped(cause), "DescribeDBInstances", "Alibaba Cloud region cn-nowhere-1 endpoint")
    assert str(error) == (
        "the host name of Alibaba Cloud region cn-nowhere-1 endpoint could not be resolved "
        "(check the region, the network and DNS)"
    )

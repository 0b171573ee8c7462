"""SDK failures become our errors without leaking what the SDK's own messages quote (URLs with ServerKey)."""

from __future__ import annotations

import pytest

from rdsssl_reconcile.cloud.sdk import _classify
from rdsssl_reconcile.errors import PermanentCloudError, TransientCloudError

KEY_IN_URL = "http://127.0.0.1:1/?ServerKey=-----BEGIN%20PRIVATE%20KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"


class FakeTransportError(OSError):
    """What requests raises: its text quotes the full URL, query string included."""


class FakeApiError(Exception):
    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(f"code: {status}, {message} request id: R-1 url {KEY_IN_URL}")
        self.code = code
        self.status_code = status
        self.request_id = "R-1"
        self.data = {"Code": code, "Message": message, "RequestId": "R-1"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (f"HTTPConnectionPool: Max retries exceeded with url: {KEY_IN_URL} (Connection refused)", "ConnectionRefused"),
        (f"Read timed out. (read timeout=10) url: {KEY_IN_URL}", "Timeout"),
        (f"('Connection aborted.', RemoteDisconnected()) {KEY_IN_URL}", "ConnectionDropped"),
    ],
)
def test_transport_errors_are_classified_without_their_text(text: str, code: str) -> None:
    error = _classify(FakeTransportError(text), "ModifyDBInstanceSSL", "http://127.0.0.1:1")
    assert isinstance(error, TransientCloudError)
    assert error.code == code
    assert "PRIVATE" not in str(error)
    assert "ServerKey" not in str(error)
    assert error.__cause__ is None


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

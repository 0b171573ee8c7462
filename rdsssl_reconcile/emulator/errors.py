"""Typed service errors: what the emulated API answers instead of a result.

Each error carries the API error ``code``, the exact ``message`` from the error tables of the API pages
("ModifyDBInstanceSSL", "DescribeDBInstanceSSL") and the gateway's public error list, and the HTTP status,
so the response layer can serialize it into the gateway's envelope and the official SDK raises its own
exception with that code. Where the record leaves the code open, the emulator picks a documented one and
makes the choice a setting (``settings.py``); docs/emulator.md lists each code with its source.

The catalogue is data (``CATALOGUE``) rather than one class per code: the rules in the backend name the
code they refuse with, and a test can walk the table. Two subclasses mark where an error comes from,
because the call log and the tests care: :class:`GatewayError` for the signature/routing layer that sits
in front of every product, :class:`ServiceError` itself for RDS rules.
"""

from __future__ import annotations

#: code -> (HTTP status, exact message). Messages quoted from the reference where it has them.
CATALOGUE: dict[str, tuple[int, str]] = {
    # The error table of the API page "ModifyDBInstanceSSL"
    "InvalidServerCertOrPrivateKey": (400, "Specify server certificate or private key is invalid."),
    "InvalidClientCACert": (400, "Specify client ca certificate is invalid."),
    "InvalidClientCrl": (400, "Specify client certificate revocation list is invalid."),
    "InvalidCAType.NotFound": (400, "Specify ca type is not found."),
    "InvalidACL.NotFound": (400, "Specify acl is not found."),
    "InvalidSSLStatus": (400, "Specify ssl status is invalid."),
    "IncorrectDBSslStatus": (400, "Specified DB SSLStatus does not support this operation."),
    "InvalideStatus.Format": (400, "The instance status does not support this operation."),
    "RequiredParam.NotFound": (400, "Required input param is not found."),
    "Parameters.Invalid": (400, "Parameter error, please check the parameters."),
    "InvalidClientCrl.Permission": (
        403,
        "Client ca certificate is set first if need to set client certificate revocation list.",
    ),
    "InvalidACL.Permission": (403, "Client ca certificate is set first if need to set acl."),
    "CloudSSDNotSupport": (403, "Cloud ssd does not support this operation, please upgrade to essd."),
    "InvalidInstanceLevel.Malformed": (403, "Current DB instance level does not support this operation."),
    "Endpoint.NotFound": (404, "Specified endpoint is not existed."),
    # The API page "DescribeDBInstanceSSL" and generic RDS codes. An unknown instance is 404 on Describe*;
    # ModifyDBInstanceSSL answers the 400 variant (MODIFY_INSTANCE_NOT_FOUND).
    "InvalidDBInstanceId.NotFound": (404, "The specified instance is not found."),
    "InvalidConnectionString.NotFound": (404, "Specified connection string or net type is not found."),
    "IncorrectDBInstanceState": (403, "Current DB instance state does not support this operation."),
    "InstanceEngineType.NotSupport": (403, "Current DB instance engine type does not support this operation."),
    "IncorrectEngineVersion": (403, "Current engine version does not support operations."),
    "OperationDenied.DBInstanceType": (403, "The operation is not permitted due to type of the instance."),
    # Chosen for open questions (docs/emulator.md, "Choices").
    "IncorrectDBInstanceLockMode": (403, "Current DB instance lock mode does not support this operation."),
    # The ``error`` reading of a comma-separated DescribeDBInstances DBInstanceId (settings.describe_ids):
    # the RDS ``*.Malformed`` family's answer to a value it cannot parse. Plausible, not observed.
    "InvalidDBInstanceId.Malformed": (400, "Specified parameter DBInstanceId is not valid."),
    # Gateway: the public POP error list shared by every product
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation."),
    "ContentSHA256NotMatch": (400, "The x-acs-content-sha256 header does not match the SHA-256 of the request body."),
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "MissingSignatureNonce": (400, "SignatureNonce is mandatory for this action."),
    "InvalidSecurityToken.MismatchWithAccessKey": (400, "Specified SecurityToken mismatch with the AccessKey."),
    "InvalidApi.NotFound": (404, "Specified api is not found, please check your url and method."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling": (400, "Request was denied due to request throttling."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error, exception or failure."),
}

GATEWAY_CODES = frozenset(
    {
        "InvalidAccessKeyId.NotFound",
        "SignatureDoesNotMatch",
        "ContentSHA256NotMatch",
        "IncompleteSignature",
        "InvalidTimeStamp.Expired",
        "InvalidTimeStamp.Format",
        "SignatureNonceUsed",
        "MissingSignatureNonce",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "InvalidApi.NotFound",
        "InvalidVersion",
    }
)


class ServiceError(Exception):
    """An RDS rule refused the request. Never carries request values that could be secret.

    A plain exception rather than a frozen dataclass: Python and pytest set attributes on exceptions
    (``__notes__``, tracebacks), which a frozen ``__setattr__`` would break.
    """

    def __init__(self, *, code: str, message: str, status: int, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status})"

    @classmethod
    def of(cls, code: str, *, message: str | None = None, status: int | None = None) -> ServiceError:
        """The catalogued error ``code``, optionally with another message or status (fault rules use this)."""
        default_status, default_message = CATALOGUE.get(code, (400, f"{code}."))
        error_class: type[ServiceError] = GatewayError if code in GATEWAY_CODES else ServiceError
        return error_class(
            code=code,
            message=message if message is not None else default_message,
            status=status if status is not None else default_status,
        )

    def with_headers(self, *headers: tuple[str, str]) -> ServiceError:
        return type(self)(code=self.code, message=self.message, status=self.status, headers=self.headers + headers)


class GatewayError(ServiceError):
    """The API gateway refused the request before RDS saw it (signature, routing, throttling)."""


def instance_not_found(*, modify: bool) -> ServiceError:
    """An unknown ``DBInstanceId``: 400 on ModifyDBInstanceSSL (its API page), 404 on the Describe actions."""
    if modify:
        return ServiceError.of(
            "InvalidDBInstanceId.NotFound", message="The DBInstanceId provided does not exist in records.", status=400
        )
    return ServiceError.of("InvalidDBInstanceId.NotFound")


def missing_parameter(name: str) -> ServiceError:
    """``Missing{Name}`` (400), the gateway's answer to an absent required parameter."""
    return ServiceError(code=f"Missing{name}", message=f"{name} is mandatory for this action.", status=400)

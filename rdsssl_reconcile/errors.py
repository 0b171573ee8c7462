"""The project's exception tree.

Library code raises these; the CLI maps them to messages and exit codes in one place. Messages are
sentences meant for users and never contain key material: callers that wrap third-party exceptions
(`cryptography`, the vendor SDK, `requests`) do so with ``from None`` or after scrubbing, because those
messages can quote the bytes or the URL (the SDK puts ``ServerKey`` in the query string).

::

    ReconcileError
    ├── UserError                 a mistake the user can fix; exit code 1, never a traceback
    │   ├── SpecError             one or more spec problems, each with file, line and key path
    │   ├── TargetError           no usable endpoint or credentials
    │   ├── PlanFileError         a saved plan that is unreadable, from another version, or stale
    │   └── PemError              PEM text that cannot be used
    │       └── EncryptedKeyError a passphrase-protected private key (RDS rejects those)
    └── CloudError                the API answered with an error or could not be reached
        ├── TransientCloudError   retrying may help (throttling, 5xx, dropped connection, busy instance)
        └── PermanentCloudError   retrying will not help (validation, not found, ineligible)
"""

from __future__ import annotations

from rdsssl_reconcile.textsafe import listing


class ReconcileError(Exception):
    """Base class of every error this package raises on purpose."""


class UserError(ReconcileError):
    """A mistake in input the user controls: reported plainly, exit code 1."""


class SpecError(UserError):
    """Spec files that do not load; ``problems`` lists every one found, not just the first.

    Each problem is one line of the message, with control characters (a newline too) escaped: a value
    quoted in a problem cannot forge another line (:mod:`rdsssl_reconcile.textsafe`).
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the specs:"
        super().__init__(listing(header, self.problems))


class TargetError(UserError):
    """The cloud target (endpoint, region, credentials) cannot be resolved."""


class PlanFileError(UserError):
    """A saved plan cannot be used."""


class PemError(UserError, ValueError):
    """PEM text without the expected block, or a block that does not parse."""


class EncryptedKeyError(PemError):
    """A passphrase-protected private key; RDS cannot enable SSL with it."""


class CloudError(ReconcileError):
    """An API call failed.

    Attributes:
        code: the API error code (``Throttling.User``, ``InvalidDBInstanceId.NotFound``...) or a local
            classification such as ``ConnectionDropped`` / ``Timeout`` for transport failures.
        status: the HTTP status, when there was a response.
        request_id: the API's RequestId, when there was one; support tickets need it.
        action: the API action that failed.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        action: str,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.action = action
        self.status = status
        self.request_id = request_id


class TransientCloudError(CloudError):
    """Retrying may help. ``retry_after`` is the server's hint in seconds, if it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class PermanentCloudError(CloudError):
    """Retrying will not help: the request or the instance is wrong for this call."""

"""The API gateway's ACS3-HMAC-SHA256 check, exactly as the official SDK signs (the SDK's ``alibabacloud_tea_openapi`` signer).

The canonical request is rebuilt from what arrived on the wire: the raw query is form-decoded (the SDK
sends ``+`` for a space) and each value re-encoded with ``quote(v, safe='~')``; the canonical headers are
the ones the ``Authorization`` header lists in ``SignedHeaders``, not a fixed set, because the SDK signs
every header it has at signing time. ``host`` and every ``x-acs-*`` header must be among them, otherwise an
unsigned action or date could be swapped in transit.

Order of checks, each with its gateway code: malformed ``Authorization`` (``IncompleteSignature``), unknown
key (``InvalidAccessKeyId.NotFound``), signature (``SignatureDoesNotMatch``), body hash against the signed
``x-acs-content-sha256`` (``ContentSHA256NotMatch``), STS token (``InvalidSecurityToken.MismatchWithAccessKey``),
then date skew (``InvalidTimeStamp.Expired``) and nonce reuse (``SignatureNonceUsed``). The signature comes
first so that *any* signed header altered after signing (date, nonce, token, body hash) reads as the
tampering it is.

Time here is the *real* wall clock: the business clock may be a year ahead while the SDK stamps real time.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import parse_qsl, quote

from .errors import ServiceError

ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

DEFAULT_ACCESS_KEY_ID = "emulator-access-key-id"
DEFAULT_ACCESS_KEY_SECRET = "emulator-access-key-secret"  # noqa: S105 - a documented, emulator-only credential
DEFAULT_STS_ACCESS_KEY_ID = "STS.emulator-sts-access-key-id"
DEFAULT_STS_ACCESS_KEY_SECRET = "emulator-sts-access-key-secret"  # noqa: S105
DEFAULT_STS_SECURITY_TOKEN = "emulator-sts-security-token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A credential the emulator accepts. ``security_token`` set means an STS key (token required)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


def default_keys(access_key_id: str | None = None, access_key_secret: str | None = None) -> tuple[AccessKey, ...]:
    """The AK pair (overridable by ``--access-key-id/--access-key-secret``) plus the documented STS triple."""
    return (
        AccessKey(access_key_id or DEFAULT_ACCESS_KEY_ID, access_key_secret or DEFAULT_ACCESS_KEY_SECRET),
        AccessKey(DEFAULT_STS_ACCESS_KEY_ID, DEFAULT_STS_ACCESS_KEY_SECRET, DEFAULT_STS_SECURITY_TOKEN),
    )


def canonical_query(raw_query: str) -> str:
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True), key=lambda kv: kv[0])
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in pairs)


class NonceJournal(Protocol):
    """Where used nonces are made durable (``state.NonceFile``), so a replay is refused across restarts."""

    def append(self, nonce: str, expires_at: float) -> None: ...

    def rewrite(self, entries: list[tuple[str, float]]) -> None: ...


class NonceCache:
    """Used nonces, each until a given expiry; bounded by time (and a hard cap) so memory stays flat.

    With a journal, every nonce is written to it before :meth:`use` returns (so before the request is
    handled and answered), and the journal is rewritten with only the live nonces when it has grown to
    more than twice their number, so it stays as small as the memory it mirrors.
    """

    def __init__(self, *, limit: int = 1_000_000, journal: NonceJournal | None = None) -> None:
        self.limit = limit
        self._seen: dict[str, float] = {}
        self._order: deque[tuple[float, str]] = deque()  # (expires at, nonce), in the order of use
        self._lock = threading.Lock()
        self._journal = journal
        self._journal_lines = 0

    def use(self, nonce: str, now: float, *, keep_for: float) -> bool:
        """Record ``nonce`` for ``keep_for`` seconds; False when it is still remembered."""
        with self._lock:
            self._expire(now)
            if nonce in self._seen:
                return False
            self._remember(nonce, now + keep_for)
            if self._journal is not None:
                if self._journal_lines > max(1024, 2 * len(self._order)):
                    self._journal.rewrite(list(self.entries_locked()))
                    self._journal_lines = len(self._order)
                else:
                    self._journal.append(nonce, now + keep_for)
                    self._journal_lines += 1
            return True

    def _expire(self, now: float) -> None:
        while self._order and (self._order[0][0] <= now or len(self._order) > self.limit):
            _, old = self._order.popleft()
            self._seen.pop(old, None)

    def _remember(self, nonce: str, expires_at: float) -> None:
        self._seen[nonce] = expires_at
        self._order.append((expires_at, nonce))

    def entries_locked(self) -> Iterator[tuple[str, float]]:
        return ((nonce, expires) for expires, nonce in self._order)

    def load(self, entries: Iterable[tuple[str, float]], now: float) -> int:
        """Remember ``entries`` (from a journal) that have not expired; returns how many were kept."""
        with self._lock:
            for nonce, expires_at in sorted(entries, key=lambda e: e[1]):
                if expires_at > now and nonce not in self._seen:
                    self._remember(nonce, expires_at)
            self._expire(now)
            self._journal_lines = len(self._order)
            return len(self._order)

    def attach(self, journal: NonceJournal) -> None:
        """Journal from now on, starting from a compact copy of what is remembered."""
        with self._lock:
            self._journal = journal
            journal.rewrite(list(self.entries_locked()))
            self._journal_lines = len(self._order)


@dataclass(frozen=True, slots=True)
class Authenticated:
    access_key_id: str
    is_sts: bool


class Authenticator:
    """Verifies one request; raises a gateway :class:`ServiceError` or returns who signed it."""

    def __init__(
        self,
        keys: tuple[AccessKey, ...],
        *,
        max_skew_seconds: float = 900.0,
        nonce_ttl_seconds: float = 900.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {k.access_key_id: k for k in keys}
        self.max_skew_seconds = max_skew_seconds
        self.nonce_ttl_seconds = nonce_ttl_seconds
        self.nonces = NonceCache()
        self._wall_clock = wall_clock

    @property
    def keys(self) -> tuple[AccessKey, ...]:
        return tuple(self._keys.values())

    def verify(
        self, *, method: str, path: str, raw_query: str, headers: Mapping[str, str], body: bytes
    ) -> Authenticated:
        """``headers`` must have lower-case names."""
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        if algorithm != ALGORITHM:
            raise ServiceError.of("IncompleteSignature")
        try:
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            credential, signed, signature = parts["Credential"], parts["SignedHeaders"], parts["Signature"]
        except (KeyError, ValueError):
            raise ServiceError.of("IncompleteSignature") from None
        signed_names = signed.split(";")
        if "host" not in signed_names or any(h.startswith("x-acs-") and h not in signed_names for h in headers):
            raise ServiceError.of("IncompleteSignature")

        key = self._keys.get(credential)
        if key is None:
            raise ServiceError.of("InvalidAccessKeyId.NotFound")

        # The signature covers the *claimed* body hash (as the SDK computes it); the body is compared with
        # that claim afterwards, so an altered header reads as a bad signature and an altered body as such.
        claimed_hash = headers.get("x-acs-content-sha256", "")
        canonical_headers = "".join(f"{h}:{headers.get(h, '').strip()}\n" for h in signed_names)
        canonical_request = (
            f"{method}\n{path or '/'}\n{canonical_query(raw_query)}\n{canonical_headers}\n{signed}\n{claimed_hash}"
        )
        string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode('utf-8')).hexdigest()}"
        expected = hmac.new(
            key.access_key_secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise ServiceError.of("SignatureDoesNotMatch")
        if not hmac.compare_digest(claimed_hash, hashlib.sha256(body).hexdigest()):
            raise ServiceError.of("ContentSHA256NotMatch")
        if key.security_token is not None and not hmac.compare_digest(
            headers.get("x-acs-security-token", ""), key.security_token
        ):
            raise ServiceError.of("InvalidSecurityToken.MismatchWithAccessKey")

        now = self._wall_clock()
        stamp = headers.get("x-acs-date", "")
        try:
            sent = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        except ValueError:
            raise ServiceError.of("InvalidTimeStamp.Format") from None
        if abs(now - sent) > self.max_skew_seconds:
            raise ServiceError.of("InvalidTimeStamp.Expired")
        nonce = headers.get("x-acs-signature-nonce", "")
        if not nonce:
            raise ServiceError.of("MissingSignatureNonce")
        # Remembered at least as long as a request carrying it can still pass the date check: its date
        # may be up to max_skew ahead of now, and stays acceptable for max_skew after that.
        keep_for = max(self.nonce_ttl_seconds, 2 * self.max_skew_seconds)
        if not self.nonces.use(nonce, now, keep_for=keep_for):
            raise ServiceError.of("SignatureNonceUsed")
        return Authenticated(access_key_id=key.access_key_id, is_sts=key.security_token is not None)

"""The call log: one record per API request, safe to print, assert on and attach to a bug report.

Tests use it to count exact API calls ("plan never sent a modify"). It records parameter *names* for every
parameter and *values* only for an allowlist of non-secret ones; certificates and CRLs appear as SHA-256
fingerprints, and ``ServerKey`` (or anything not allowlisted) never appears with a value. The SDK puts
every parameter, the private key included, in the URL query string, which is why no URL is ever stored.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .certificates import pem_fingerprint

#: Parameters whose values are recorded verbatim (identifiers, flags, enums, paging).
VALUE_ALLOWLIST = frozenset(
    {
        "DBInstanceId",
        "RegionId",
        "ConnectionString",
        "SSLEnabled",
        "CAType",
        "ClientCAEnabled",
        "ClientCrlEnabled",
        "ACL",
        "ReplicationACL",
        "ForceEncryption",
        "TlsVersion",
        "Engine",
        "EngineVersion",
        "DBInstanceStatus",
        "DBInstanceType",
        "PayType",
        "Category",
        "PageSize",
        "PageNumber",
        "MaxResults",
        "NextToken",
        "Expired",
    }
)
#: Public PEM parameters, recorded as ``sha256:`` fingerprints.
FINGERPRINTED = frozenset({"ServerCert", "ClientCACert", "ClientCertRevocationList"})


#: Longer identifiers are logged as fingerprints: an id or action is short, a pasted PEM is not.
MAX_VERBATIM = 200


def safe_value(value: str | None) -> str | None:
    """``value`` as-is when it is a plausible identifier, else a fingerprint.

    Client-chosen strings (the action header, ``DBInstanceId``...) reach the log; a client that pastes a
    key into the wrong parameter must not get it written there.
    """
    if value is None or (len(value) <= MAX_VERBATIM and "-----" not in value and "\n" not in value):
        return value
    return pem_fingerprint(value)


def loggable_params(params: Mapping[str, str]) -> dict[str, str | None]:
    """Name -> safe value (allowlisted), fingerprint (public PEM) or None (anything else, e.g. ServerKey)."""
    out: dict[str, str | None] = {}
    for name, value in params.items():
        name = safe_value(name) or ""
        if name in VALUE_ALLOWLIST:
            out[name] = safe_value(value)
        elif name in FINGERPRINTED:
            out[name] = pem_fingerprint(value)
        else:
            out[name] = None
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """One request as the emulator saw it. ``outcome`` is ``ok`` or the error code returned."""

    seq: int
    time: str
    emulated_time: str
    action: str | None
    instance_id: str | None
    region_id: str | None
    outcome: str
    http_status: int | None
    duration_ms: float
    request_id: str
    access_key_id: str | None
    fault: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "emulated_time": self.emulated_time,
            "action": self.action,
            "instance_id": self.instance_id,
            "region_id": self.region_id,
            "outcome": self.outcome,
            "http_status": self.http_status,
            "duration_ms": self.duration_ms,
            "request_id": self.request_id,
            "access_key_id": self.access_key_id,
            "fault": self.fault,
            "param_names": sorted(self.params),
            "params": {k: v for k, v in sorted(self.params.items()) if v is not None},
        }

    def summary(self) -> str:
        """The one log line per request: no URL, no parameter values beyond the instance."""
        status = "-" if self.http_status is None else str(self.http_status)
        fault = f" fault={self.fault}" if self.fault else ""
        return (
            f"#{self.seq} {self.action or '-'} {self.instance_id or '-'} -> {status} {self.outcome} "
            f"{self.duration_ms:.1f}ms{fault}"
        )


class CallLog:
    """A bounded, thread-safe list of :class:`CallRecord` with a monotonic sequence number."""

    def __init__(self, limit: int = 100_000) -> None:
        self._records: deque[CallRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()
        self._seq = 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def set_limit(self, limit: int) -> None:
        with self._lock:
            if self._records.maxlen != limit:
                self._records = deque(self._records, maxlen=limit)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def records(self, *, action: str | None = None, instance_id: str | None = None) -> list[CallRecord]:
        with self._lock:
            return [
                r
                for r in self._records
                if (action is None or r.action == action) and (instance_id is None or r.instance_id == instance_id)
            ]

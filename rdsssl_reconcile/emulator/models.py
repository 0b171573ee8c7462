"""The emulated world as frozen values: instances, their endpoints, SSL state and pending changes.

Values are immutable so the backend can hand one to a response serializer while another thread
replaces it under the lock (``dataclasses.replace``): a reader always sees one consistent instance.
Nothing here knows about HTTP, the wire names or persistence; ``fleet.py`` converts to and from the
documented YAML shape and ``responses.py`` to the API's JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

ACL_VALUES = ("cert", "prefer", "verify-ca", "verify-full")
LOCAL_DISK_STORAGE = frozenset({"local_ssd", "ephemeral_ssd"})
MODIFY_REASON = "Modify DB Instance SSL Config."
MODIFY_FAILED_REASON = "Modify DB Instance SSL Config failed."


class Outcome(Enum):
    """How an accepted modify ends; fault rules choose ``FAILED``, ``NEVER`` and ``IGNORED``."""

    SUCCESS = "success"
    FAILED = "failed"
    NEVER = "never"  # the instance stays busy and ``setting`` until reset or set_instance
    # Reports ``success`` but keeps the old configuration: the case that "Running again" cannot catch
    # and only a re-read of the SSL state can.
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """A connection address. ``ip_type`` is ``Private`` or ``Public`` (DescribeDBInstanceNetInfo's IPType)."""

    host: str
    ip_type: str = "Private"
    port: int = 5432
    connection_string_type: str = "Normal"  # or ReadWriteSplitting, which SSL cannot protect

    @property
    def is_read_write_splitting(self) -> bool:
        return self.connection_string_type == "ReadWriteSplitting"


@dataclass(frozen=True, slots=True, kw_only=True)
class SslState:
    """The SSL configuration of an instance as RDS stores it.

    ``client_ca_cert`` set means the client CA is enabled, ``crl`` set means the CRL is enabled: the API
    has no separate flags for them (the API page "DescribeDBInstanceSSL"). ``server_key`` is secret and kept out of ``repr``.
    """

    enabled: bool = False
    ca_type: str | None = None
    endpoints: tuple[str, ...] = ()
    server_cert: str | None = None
    server_key: str | None = field(default=None, repr=False)
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    client_ca_cert: str | None = None
    crl: str | None = None
    acl: str | None = None
    replication_acl: str | None = None


SSL_OFF = SslState()


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingModify:
    """An accepted ModifyDBInstanceSSL that has not finished yet.

    ``busy_until`` is absolute business time, so a restarted emulator settles it exactly as the one that
    accepted it would have (moto's ``CertBundle.check``: state moves forward lazily, on read).
    """

    request_id: str
    accepted_at: datetime
    busy_until: datetime
    target: SslState
    outcome: Outcome = Outcome.SUCCESS


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """One RDS instance and everything the five emulated actions read or change."""

    id: str
    region: str
    zone_id: str
    engine: str = "PostgreSQL"
    engine_version: str = "15.0"
    instance_class: str = "pg.n2.medium.2c"
    storage_type: str = "cloud_essd"
    storage_gb: int = 100
    pay_type: str = "Postpaid"
    category: str = "HighAvailability"
    instance_type: str = "Primary"
    master_instance_id: str = ""
    status: str = "Running"
    lock_mode: str = "Unlock"
    description: str = ""
    created_at: datetime
    endpoints: tuple[Endpoint, ...]
    ssl: SslState = SSL_OFF
    last_modify_status: str = "success"
    modify_status_reason: str = ""
    pending: PendingModify | None = None
    #: Served by a real PostgreSQL server (``postgres.py``) while a backing is attached to the backend.
    backed: bool = False

    def endpoint(self, host: str) -> Endpoint | None:
        wanted = host.strip().rstrip(".").lower()
        for endpoint in self.endpoints:
            if endpoint.host.lower() == wanted:
                return endpoint
        return None

    @property
    def primary_endpoint(self) -> Endpoint:
        """The internal endpoint DescribeDBInstances reports as ``ConnectionString``."""
        for endpoint in self.endpoints:
            if endpoint.ip_type == "Private" and not endpoint.is_read_write_splitting:
                return endpoint
        return self.endpoints[0]

    @property
    def major_version(self) -> float | None:
        match = re.match(r"^\s*(\d+(?:\.\d+)?)", self.engine_version)
        return float(match.group(1)) if match else None

    @property
    def is_serverless(self) -> bool:
        return "serverless" in self.pay_type.lower() or "serverless" in self.category.lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class Modification:
    """One accepted modify, for ``admin.modifications()``: tests compute concurrency from these intervals."""

    instance_id: str
    request_id: str
    accepted_at: datetime
    busy_until: datetime
    planned_outcome: Outcome
    finished_at: datetime | None = None
    outcome: str = "pending"  # pending | success | failed

    def to_dict(self) -> dict[str, object]:
        return {
            "instance_id": self.instance_id,
            "request_id": self.request_id,
            "accepted_at": self.accepted_at.isoformat(),
            "busy_until": self.busy_until.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "outcome": self.outcome,
            "planned_outcome": self.planned_outcome.value,
        }

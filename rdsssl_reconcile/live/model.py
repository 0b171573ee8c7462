"""Frozen values for the live state of an instance, built by :mod:`rdsssl_reconcile.live.parse`.

The API returns the server's private key (``DescribeDBInstanceSSL.ServerKey``); it never reaches these
values. The cloud adapter replaces it with the fingerprint of its public key before anything else sees
the response, and :class:`LiveSsl` keeps only that fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from rdsssl_reconcile.pki.summary import CertSummary, CrlSummary


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """What DescribeDBInstances says about an instance (eligibility, status)."""

    id: str
    region: str
    engine: str
    engine_version: str
    storage_type: str
    pay_type: str
    category: str
    instance_type: str
    status: str
    lock_mode: str
    description: str
    connection_string: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One connection string of an instance (DescribeDBInstanceNetInfo)."""

    host: str
    ip_type: str  # Private | Public | Inner
    port: str
    kind: str  # Normal | ReadWriteSplitting


@dataclass(frozen=True, slots=True)
class LiveCertificate:
    """A certificate the API returned: its DER (public) and summary, or why it could not be parsed."""

    der: bytes | None
    summary: CertSummary | None
    problem: str | None = None
    chain_sha256: tuple[str, ...] = ()  # certificates after the leaf, in the order returned

    def __repr__(self) -> str:
        return f"LiveCertificate({self.summary.short() if self.summary else self.problem})"


@dataclass(frozen=True, slots=True)
class LiveSsl:
    """DescribeDBInstanceSSL, normalised: booleans, tuples, datetimes, summaries."""

    enabled: bool
    ca_type: str | None
    endpoints: tuple[str, ...]
    server_cert: LiveCertificate | None
    server_key_public_sha256: str | None
    expire_time: datetime | None
    create_time: datetime | None
    require_update: bool
    require_update_reason: str | None
    last_modify_status: str | None
    modify_status_reason: str | None
    server_ca_url: str | None
    client_ca: LiveCertificate | None
    crl_sha256: str | None
    crl: CrlSummary | None
    acl: str | None
    replication_acl: str | None


class ReadOutcome(Enum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ReadError:
    """A failed read, kept as data so one instance's error never hides the others' plans."""

    action: str
    code: str
    message: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class LiveInstance:
    """Everything read about one instance. ``ssl``/``endpoints`` are None when not read (ineligible)."""

    instance_id: str
    region: str
    outcome: ReadOutcome
    facts: InstanceFacts | None = None
    endpoints: tuple[Endpoint, ...] | None = None
    ssl: LiveSsl | None = None
    error: ReadError | None = None

    def fingerprint(self) -> str:
        """SHA-256 of the live state a plan depends on; apply refuses a plan whose fingerprint moved."""
        return hashlib.sha256(json.dumps(live_to_json(self), sort_keys=True).encode()).hexdigest()


def live_ssl_to_json(ssl: LiveSsl) -> dict[str, Any]:
    """The SSL state as JSON-safe data (public identity only)."""
    return {
        "enabled": ssl.enabled,
        "ca_type": ssl.ca_type,
        "endpoints": list(ssl.endpoints),
        "server_cert": ssl.server_cert.summary.to_dict()
        if ssl.server_cert and ssl.server_cert.summary
        else (ssl.server_cert.problem if ssl.server_cert else None),
        # Only when present, so that fingerprints of chain-less states stay what they were.
        **(
            {"server_cert_chain": list(ssl.server_cert.chain_sha256)}
            if ssl.server_cert and ssl.server_cert.chain_sha256
            else {}
        ),
        "server_key_public_sha256": ssl.server_key_public_sha256,
        "client_ca": ssl.client_ca.summary.to_dict()
        if ssl.client_ca and ssl.client_ca.summary
        else (ssl.client_ca.problem if ssl.client_ca else None),
        "crl_sha256": ssl.crl_sha256,
        "acl": ssl.acl,
        "replication_acl": ssl.replication_acl,
    }


def live_to_json(live: LiveInstance) -> dict[str, Any]:
    """What the live fingerprint covers: configuration and eligibility, not transient status fields.

    Status, ``RequireUpdate`` and ``LastModifyStatus`` are left out on purpose: they move on their own
    (a restart finishing, time passing) and apply re-plans every instance anyway before acting.
    """
    facts = live.facts
    return {
        "outcome": live.outcome.value,
        "facts": None
        if facts is None
        else {
            "engine": facts.engine,
            "engine_version": facts.engine_version,
            "storage_type": facts.storage_type,
            "pay_type": facts.pay_type,
            "category": facts.category,
            "instance_type": facts.instance_type,
            "lock_mode": facts.lock_mode,
        },
        "ssl": live_ssl_to_json(live.ssl) if live.ssl else None,
    }

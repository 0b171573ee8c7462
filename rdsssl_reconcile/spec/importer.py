"""``import``: the inverse of the planner, live state -> desired state, as spec text and PEM files.

Pure: an :class:`~rdsssl_reconcile.live.inventory.InventoryItem` in, the files of one spec out. What
the mapping must guarantee is that ``plan`` of what it writes finds nothing to change, and that is how it
is tested (tests/e2e/test_import.py), not by golden files of its own: the planner is the one definition
of "in sync", and a second one here would drift from it.

The mapping, field by field (docs/import.md):

* SSL off: ``ssl: {enabled: false}``.
* SSL on with the cloud certificate: ``source: aliyun`` for the one endpoint the API reports.
* SSL on with a custom certificate: ``source: custom``; the certificate as returned (leaf, then any chain)
  is written to ``certs/ID/server.crt``; the private key is never written (the API's ``ServerKey`` was
  reduced to its public-key fingerprint before it reached the tool): the spec references
  ``{env: ID_SERVER_KEY}`` (or ``{file: certs/ID/server.key}``), which the user provides. A certificate
  the tool issued earlier (``source: issuer``) looks the same from the API and is imported as ``custom``.
* Endpoints: the hosts the API reports in ``ConnectionString``, which the planner accepts as protected
  under every reading of it.
* Client CA, CRL, ACLs: the client CA to ``certs/ID/client-ca.crt``, the CRL to ``certs/ID/client-ca.crl``;
  ``acl`` / ``replication_acl`` as reported (left out, i.e. not managed, when unset).
* ``policy: {restart: never}``: the live state says nothing about when a restart is acceptable, so the
  import grants none; change it when you decide (apply otherwise needs ``--allow-restart ID``).

Instances that cannot be described are skipped with the reason: ineligible (the plan's own blockers),
unreadable, or with live material the tool cannot parse. Nothing written depends on the time of the
import, so importing an unchanged fleet again gives the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rdsssl_reconcile.live.inventory import InventoryItem
from rdsssl_reconcile.live.model import LiveSsl, ReadOutcome
from rdsssl_reconcile.planning.eligibility import blockers
from rdsssl_reconcile.planning.endpoints import reported_names
from rdsssl_reconcile.spec.keyscan import holds_private_key
from rdsssl_reconcile.spec.schema import ACL_VALUES, HOSTNAME_PATTERN
from rdsssl_reconcile.spec.yaml_source import yaml_scalar

KeyRefKind = Literal["env", "file"]
_HOSTNAME = re.compile(HOSTNAME_PATTERN)


@dataclass(frozen=True, slots=True)
class KeyToProvide:
    """The private key an imported spec references and the user must provide (never written)."""

    instance_id: str
    kind: KeyRefKind
    #: The environment variable's name, or the path relative to the spec file.
    written: str
    public_key_sha256: str | None
    certificate_sha256: str

    def describe(self) -> str:
        where = f"env ${self.written}" if self.kind == "env" else f"file {self.written} (mode 0600)"
        public = f", public key sha256 {self.public_key_sha256}" if self.public_key_sha256 else ""
        return f"{where}: the private key of certificate sha256 {self.certificate_sha256[:23]}{public}"


@dataclass(frozen=True, slots=True)
class ImportedInstance:
    instance_id: str
    region: str
    #: The spec file's path, relative to the output directory.
    spec_path: str
    #: Every file to write, relative to the output directory: the spec and its public PEM files.
    files: tuple[tuple[str, str], ...]
    summary: str
    key: KeyToProvide | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SkippedInstance:
    instance_id: str
    region: str
    reason: str


def env_name(instance_id: str) -> str:
    """``pgm-bp1-orders`` -> ``PGM_BP1_ORDERS_SERVER_KEY``: the variable an imported spec names."""
    return re.sub(r"[^A-Za-z0-9]", "_", instance_id).upper() + "_SERVER_KEY"


def _days(expiry: datetime, now: datetime) -> int:
    return int((expiry - now).total_seconds() // 86400)


def import_instance(
    item: InventoryItem, *, key_ref: KeyRefKind = "env", now: datetime, renew_before_days: int = 30
) -> ImportedInstance | SkippedInstance:
    """The spec that declares ``item``'s live SSL configuration, or why there is none."""
    live = item.live
    skip = SkippedInstance(instance_id=live.instance_id, region=live.region, reason="")
    if live.outcome is not ReadOutcome.FOUND or live.facts is None:
        error = live.error
        reason = f"{error.action} failed: {error.code}: {error.message}" if error else "could not be read"
        return SkippedInstance(live.instance_id, live.region, f"cannot be read: {reason}")
    reasons = blockers(live.facts)
    if reasons:
        return SkippedInstance(live.instance_id, live.region, f"ineligible: {'; '.join(reasons)}")
    ssl = live.ssl
    if ssl is None:
        return SkippedInstance(live.instance_id, live.region, "the SSL configuration was not read")
    builder = _SpecBuilder(item, key_ref=key_ref, now=now, renew_before_days=renew_before_days)
    problem = builder.build(ssl)
    if problem is not None:
        return SkippedInstance(skip.instance_id, skip.region, problem)
    return builder.result()


class _SpecBuilder:
    """The lines of one instance's spec, and the PEM files beside it."""

    def __init__(self, item: InventoryItem, *, key_ref: KeyRefKind, now: datetime, renew_before_days: int) -> None:
        self.item = item
        self.live = item.live
        self.key_ref: KeyRefKind = key_ref
        self.now = now
        self.renew_before_days = renew_before_days
        self.id = self.live.instance_id
        self.region = self.live.region
        self.spec_path = f"{self.region}/{self.id}.yaml"
        self.certs_dir = f"certs/{self.id}"
        self.lines: list[str] = []
        self.files: list[tuple[str, str]] = []
        self.notes: list[str] = []
        self.key: KeyToProvide | None = None
        self.summary = ""

    def material(self, name: str, pem: str) -> str:
        """Record a public PEM file beside the spec; the reference the spec writes for it."""
        if holds_private_key(pem):  # defence in depth: the adapter never hands a key to this module
            raise AssertionError("import: refusing to write PEM that holds a private key")
        relative = f"{self.certs_dir}/{name}"
        self.files.append((f"{self.region}/{relative}", pem))
        return f"{{file: {yaml_scalar(relative)}}}"

    def build(self, ssl: LiveSsl) -> str | None:
        facts = self.live.facts
        assert facts is not None
        q = yaml_scalar
        header = [
            f"# Written by 'rdsssl-reconcile import' from the live SSL configuration of {self.id} ({self.region}).",
            "# Edit it as your own: a later import refuses to overwrite an edited file without --force.",
        ]
        body = ["version: 1", "instances:", f"  - id: {q(self.id)}", f"    region: {q(self.region)}"]
        description = facts.description
        if description and "-----BEGIN" not in description and not holds_private_key(description):
            body.append(f"    description: {q(description)}")
        body.append("    ssl:")
        if not ssl.enabled:
            body.append("      enabled: false")
            self.summary = "SSL off"
        else:
            problem = self.ssl_on(ssl, body, header)
            if problem is not None:
                return problem
        body += [
            "    policy:",
            "      restart: never   # imported: no restart is allowed until you decide (apply --allow-restart ID)",
        ]
        self.lines = header + body
        return None

    def ssl_on(self, ssl: LiveSsl, body: list[str], header: list[str]) -> str | None:
        q = yaml_scalar
        endpoints = [name.lower() for name in reported_names(ssl)]
        if not endpoints:
            return "SSL is on but DescribeDBInstanceSSL reports no protected endpoint (ConnectionString)"
        bad = [e for e in endpoints if not _HOSTNAME.match(e)]
        if bad:
            return f"the protected endpoint {bad[0]!r} is not a host name the spec format accepts"
        body.append("      enabled: true")
        body.append(f"      endpoints: [{', '.join(q(e) for e in endpoints)}]")
        ca_type = ssl.ca_type or "aliyun"
        if ca_type == "aliyun":
            if len(endpoints) != 1:
                return f"the cloud certificate reports {len(endpoints)} protected endpoints; it protects exactly one"
            body.append("      certificate: {source: aliyun}")
            self.summary = f"SSL on, cloud certificate for {endpoints[0]}"
            self.aliyun_notes(ssl)
        else:
            cert = ssl.server_cert
            pem = self.item.material.server_cert
            if cert is None or cert.summary is None or pem is None:
                return "the live custom certificate cannot be parsed; write its spec by hand"
            key_written = env_name(self.id) if self.key_ref == "env" else f"{self.certs_dir}/server.key"
            self.key = KeyToProvide(
                instance_id=self.id,
                kind=self.key_ref,
                written=key_written,
                public_key_sha256=ssl.server_key_public_sha256,
                certificate_sha256=cert.summary.sha256,
            )
            body += [
                "      certificate:",
                "        source: custom",
                f"        cert: {self.material('server.crt', pem)}",
                f"        key: {{{self.key_ref}: {q(key_written)}}}   # to provide: never written by import",
            ]
            header.append(f"# The private key is not written: provide it ({self.key.describe()}).")
            self.summary = f"SSL on, custom certificate {cert.summary.short()}"
            days = cert.summary.days_left(self.now)
            if days < self.renew_before_days:
                self.notes.append(f"the custom certificate expires in {int(days)} days: plan will warn about it")
        return self.client_ca(ssl, body)

    def aliyun_notes(self, ssl: LiveSsl) -> None:
        expiry = ssl.expire_time or (
            ssl.server_cert.summary.not_after if ssl.server_cert and ssl.server_cert.summary else None
        )
        if ssl.require_update:
            self.notes.append("the API reports RequireUpdate=1: plan will propose renewing the cloud certificate")
        elif expiry is not None and _days(expiry, self.now) < self.renew_before_days:
            self.notes.append(
                f"the cloud certificate expires in {_days(expiry, self.now)} days: plan will propose renewing it "
                f"(renew_before_days={self.renew_before_days})"
            )

    def client_ca(self, ssl: LiveSsl, body: list[str]) -> str | None:
        q = yaml_scalar
        if ssl.client_ca is None:
            return None
        ca_pem = self.item.material.client_ca
        if ssl.client_ca.summary is None or ca_pem is None:
            return "the live client CA certificate cannot be parsed; write its spec by hand"
        body += ["      client_ca:", f"        cert: {self.material('client-ca.crt', ca_pem)}"]
        if ssl.crl_sha256 is not None:
            if self.item.material.crl is None:
                return "the live CRL cannot be parsed; write its spec by hand"
            body.append(f"        crl: {self.material('client-ca.crl', self.item.material.crl)}")
        for name, value in (("acl", ssl.acl), ("replication_acl", ssl.replication_acl)):
            if value is None:
                continue
            if value not in ACL_VALUES:
                self.notes.append(f"{name} {value!r} is not a value the spec format knows; left out (not managed)")
                continue
            body.append(f"        {name}: {q(value)}")
        self.summary += f"; client CA {ssl.client_ca.summary.subject}" + (", CRL" if ssl.crl_sha256 else "")
        return None

    def result(self) -> ImportedInstance:
        spec = "\n".join(self.lines) + "\n"
        return ImportedInstance(
            instance_id=self.id,
            region=self.region,
            spec_path=self.spec_path,
            files=((self.spec_path, spec), *self.files),
            summary=self.summary,
            key=self.key,
            notes=tuple(self.notes),
        )

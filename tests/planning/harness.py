"""Golden plan cases: ``tests/cases/plan/*.yaml`` = spec + live API bodies + now -> expected plan.

Certificates and keys are generated at run time from the case's ``pki:`` section (no key is ever
committed) and referenced as ``@NAME.crt`` / ``@NAME.key`` / ``@NAME.crt-crlf`` (the same certificate
re-encoded with CRLF line breaks and 76-column lines) in spec files, environment values and live bodies.
``pki:`` may also hold CRLs (``{crl: CA_NAME, revoked: N, next_update_days: 30}``), referenced as
``@NAME.crl``. Expected strings may contain ``{NAME.sha256}``, ``{NAME.short}``, ``{NAME.public_key_sha256}``.

Every expected change names its restart rule and its OWN verdict (``rule:`` and ``restart:``), and every
instance expected to change states ``estimated_seconds``: a mutation of one row of the restart table then
fails the case of that row, even where another change of the same instance restarts it anyway.

Case layout::

    description: what the case shows
    now: 2026-11-27T00:00:00Z
    pki:
      ca: {ca: true}
      a: {issuer: ca, endpoints: [pgm-a.pg.rds.aliyuncs.com], days: 365, age_days: 0, key_type: rsa-2048}
    files: {server.crt: "@a.crt"}       # extra files next to the spec (the spec may also use @a.crt names)
    env: {A_KEY: "@a.key"}
    spec: {instances: [...]}            # written to spec.yaml
    live:
      pgm-a:
        facts: {EngineVersion: "15.0"}  # merged over a Running PostgreSQL 15 cloud_essd primary
        endpoints: [{host: ..., type: Private, kind: Normal}]
        ssl: {SSLEnabled: "on", ...}    # a DescribeDBInstanceSSL body
        outcome: not_found | error      # instead of the above
    expected:
      pgm-a:
        status: change
        restart: required                # the instance's verdict
        estimated_seconds: 180           # restart_detail.estimated_seconds (required with status change)
        changes: [{field: ssl.enabled, before: "false", after: "true", rule: enable-ssl-cloud-cert, restart: required}]
        request: {SSLEnabled: "1"}      # subset of the displayed request parameters (null: absent);
                                         # literal parameters compare exactly, PEM displays by substring
        request_parameters: [DBInstanceId, ConnectionString, ACL]   # the exact names, in order
        sources_contain: ["Forcefully enable SSL connections"]      # in the sources of the triggered rules
        reasons_contain: [...]; warnings_contain: [...]; notes_contain: [...]
"""

from __future__ import annotations

import base64
import textwrap
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from rdsssl_reconcile.live.model import LiveInstance, ReadError, ReadOutcome
from rdsssl_reconcile.live.parse import parse_instance, parse_net_info, parse_ssl
from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType
from rdsssl_reconcile.pki.pem import crl_to_pem
from rdsssl_reconcile.pki.redaction import redact_server_key
from rdsssl_reconcile.pki.summary import summarize_certificate, summarize_crl
from rdsssl_reconcile.planning.model import Plan
from rdsssl_reconcile.planning.planner import make_plan
from rdsssl_reconcile.spec.loader import load_specs
from rdsssl_reconcile.spec.model import DesiredInstance

CASES = Path(__file__).parent.parent / "cases" / "plan"

_KEY_CACHE: dict[str, Any] = {}


def _key(name: str, key_type: KeyType) -> Any:
    # Keys are cached per (case-independent) name so the suite stays fast; certificates are fresh.
    cache_key = f"{name}:{key_type.value}"
    if cache_key not in _KEY_CACHE:
        _KEY_CACHE[cache_key] = key_type.generate()
    return _KEY_CACHE[cache_key]


def crlf_variant(pem: str) -> str:
    """The same certificate with a text preamble, CRLF endings and 76-column base64 lines."""
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    wrapped = textwrap.wrap(base64.b64encode(base64.b64decode(body)).decode(), 76)
    return (
        "Certificate:\r\n    (text dump)\r\n-----BEGIN CERTIFICATE-----\r\n"
        + "\r\n".join(wrapped)
        + "\r\n-----END CERTIFICATE-----\r\n"
    )


@dataclass
class Material:
    ca: CertificateAuthority | None
    issued: IssuedCertificate | None
    crl: x509.CertificateRevocationList | None = None

    @property
    def crl_pem(self) -> str:
        assert self.crl is not None, "not a CRL"
        return crl_to_pem(self.crl)

    @property
    def cert_pem(self) -> str:
        if self.ca is not None:
            return self.ca.cert_pem()
        assert self.issued is not None
        return self.issued.cert_pem()

    @property
    def key_pem(self) -> str:
        if self.ca is not None:
            return self.ca.key_pem()
        assert self.issued is not None
        return self.issued.key_pem()


def build_pki(spec: dict[str, Any], now: datetime) -> dict[str, Material]:
    materials: dict[str, Material] = {}
    for name, options in spec.items():
        if "crl" in options:
            materials[name] = Material(ca=None, issued=None, crl=_crl(materials[options["crl"]], options, now))
            continue
        key_type = KeyType(options.get("key_type", "ec-p256" if options.get("ca") else "rsa-2048"))
        issued_at = now - timedelta(days=options.get("age_days", 0))
        if options.get("ca"):
            ca = CertificateAuthority.create(f"{name} CA", now=issued_at, key_type=key_type)
            materials[name] = Material(ca=ca, issued=None)
            continue
        issuer = materials[options["issuer"]].ca
        assert issuer is not None
        issued = issuer.issue_server_certificate(
            options["endpoints"],
            now=issued_at,
            days=options.get("days", 365),
            key=_key(options.get("key", name), key_type),
            common_name=options.get("common_name"),
        )
        materials[name] = Material(ca=None, issued=issued)
    return materials


def _crl(issuer: Material, options: dict[str, Any], now: datetime) -> x509.CertificateRevocationList:
    """A CRL signed by the case's CA ``issuer``, with ``revoked`` made-up serial numbers."""
    assert issuer.ca is not None, "a CRL's issuer must be a CA of the case"
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.ca.certificate.subject)
        .last_update(now - timedelta(days=1))
        .next_update(now + timedelta(days=options.get("next_update_days", 30)))
    )
    for serial in range(1, options.get("revoked", 0) + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(days=1)).build()
        )
    return builder.sign(issuer.ca.private_key, hashes.SHA256())


def substitute(value: Any, materials: dict[str, Material]) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, materials) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, materials) for v in value]
    if isinstance(value, str) and value.startswith("@"):
        name, _, kind = value[1:].partition(".")
        material = materials[name]
        if kind == "crl":
            return material.crl_pem
        return {"crt": material.cert_pem, "key": material.key_pem, "crt-crlf": crlf_variant(material.cert_pem)}[kind]
    return value


def placeholders(materials: dict[str, Material]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, material in materials.items():
        if material.crl is not None:
            crl_summary = summarize_crl(material.crl)
            values[f"{{{name}.sha256}}"] = crl_summary.sha256
            values[f"{{{name}.short}}"] = crl_summary.short()
            continue
        cert = material.ca.certificate if material.ca else material.issued.certificate  # type: ignore[union-attr]
        summary = summarize_certificate(cert)
        values[f"{{{name}.sha256}}"] = summary.sha256
        values[f"{{{name}.short}}"] = summary.short()
        values[f"{{{name}.public_key_sha256}}"] = summary.public_key_sha256
        values[f"{{{name}.der_b64}}"] = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    return values


def expand(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


DEFAULT_FACTS = {
    "Engine": "PostgreSQL",
    "EngineVersion": "15.0",
    "DBInstanceStorageType": "cloud_essd",
    "PayType": "Postpaid",
    "Category": "HighAvailability",
    "DBInstanceType": "Primary",
    "DBInstanceStatus": "Running",
    "LockMode": "Unlock",
    "RegionId": "cn-hangzhou",
}


def live_state(instance_id: str, raw: dict[str, Any], materials: dict[str, Material]) -> LiveInstance:
    outcome = raw.get("outcome")
    region = raw.get("region", "cn-hangzhou")
    if outcome == "not_found":
        return LiveInstance(instance_id=instance_id, region=region, outcome=ReadOutcome.NOT_FOUND)
    if outcome == "error":
        error = ReadError(action="DescribeDBInstances", code=raw.get("code", "InternalError"), message="boom")
        return LiveInstance(instance_id=instance_id, region=region, outcome=ReadOutcome.ERROR, error=error)
    facts = parse_instance({**DEFAULT_FACTS, "DBInstanceId": instance_id, **raw.get("facts", {})}, region)
    endpoints_raw = raw.get("endpoints") or [{"host": f"{instance_id}.pg.rds.aliyuncs.com", "type": "Private"}]
    net_info = {
        "DBInstanceNetInfos": {
            "DBInstanceNetInfo": [
                {
                    "ConnectionString": e["host"],
                    "IPType": e.get("type", "Private"),
                    "Port": "5432",
                    "ConnectionStringType": e.get("kind", "Normal"),
                }
                for e in endpoints_raw
            ]
        }
    }
    ssl_body = substitute(raw.get("ssl", {"SSLEnabled": "off"}), materials)
    return LiveInstance(
        instance_id=instance_id,
        region=region,
        outcome=ReadOutcome.FOUND,
        facts=facts,
        endpoints=parse_net_info(net_info),
        ssl=parse_ssl(redact_server_key(ssl_body)),
    )


@dataclass
class CaseRun:
    case: dict[str, Any]
    plan: Plan
    values: dict[str, str]
    desired: tuple[DesiredInstance, ...] = ()
    live: dict[str, LiveInstance] = dataclass_field(default_factory=dict)
    now: datetime = datetime(2026, 11, 27, tzinfo=UTC)


def run_case(path: Path, tmp_path: Path) -> CaseRun:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    now = datetime.fromisoformat(str(case.get("now", "2026-11-27T00:00:00+00:00")).replace("Z", "+00:00"))
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    materials = build_pki(case.get("pki", {}), now)
    for name, material in materials.items():
        if material.crl is not None:
            (tmp_path / f"{name}.crl").write_text(material.crl_pem)
            continue
        (tmp_path / f"{name}.crt").write_text(material.cert_pem)
        (tmp_path / f"{name}.key").write_text(material.key_pem)
    for filename, content in (case.get("files") or {}).items():
        (tmp_path / filename).write_text(substitute(content, materials))
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(substitute(case["spec"], materials), sort_keys=False))
    env = {k: substitute(v, materials) for k, v in (case.get("env") or {}).items()}
    spec_set = load_specs([tmp_path / "spec.yaml"], now=now, environ=env)
    live = {iid: live_state(iid, raw, materials) for iid, raw in (case.get("live") or {}).items()}
    plan = make_plan(spec_set.instances, live, now=now, target={"kind": "test", "description": "golden case"})
    return CaseRun(case=case, plan=plan, values=placeholders(materials), desired=spec_set.instances, live=live, now=now)


#: What every expected change must state: the rule it hits and that rule's verdict for this change.
PINNED_CHANGE_KEYS = ("field", "rule", "restart")
VERDICTS = ("required", "unknown", "not_required")


def unpinned_changes(instance_id: str, want: list[dict[str, Any]]) -> list[str]:
    """A case that leaves a change's verdict unstated pins nothing: that is a problem of the case."""
    problems = []
    for index, change in enumerate(want):
        missing = [key for key in PINNED_CHANGE_KEYS if key not in change]
        if missing:
            problems.append(f"{instance_id}: expected changes[{index}] does not state {', '.join(missing)}")
        elif change["restart"] not in VERDICTS:
            problems.append(
                f"{instance_id}: expected changes[{index}].restart {change['restart']!r} is not one of {VERDICTS}"
            )
    return problems


def estimate_mismatches(instance_id: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    got = actual["restart_detail"]["estimated_seconds"]
    if "estimated_seconds" not in expected:
        if expected.get("status") == "change":
            return [f"{instance_id}: a case expecting a change must state estimated_seconds (the plan says {got})"]
        return []
    if got != expected["estimated_seconds"]:
        return [f"{instance_id}: estimated_seconds {got}, expected {expected['estimated_seconds']}"]
    return []


#: Parameters whose displayed value is the wire value itself: compared exactly, not by substring.
LITERAL_PARAMETERS = frozenset(
    {
        "DBInstanceId",
        "ConnectionString",
        "SSLEnabled",
        "CAType",
        "ClientCAEnabled",
        "ClientCrlEnabled",
        "ACL",
        "ReplicationACL",
    }
)


def _parameter_matches(name: str, wanted: str, got: str | None) -> bool:
    if got is None:
        return False
    return got == wanted if name in LITERAL_PARAMETERS else wanted in got


def mismatches(run: CaseRun) -> list[str]:
    """Every difference between the case's expectations and the plan, readable."""
    problems: list[str] = []
    for instance_id, expected in run.case["expected"].items():
        item = run.plan.instance(instance_id)
        if item is None:
            problems.append(f"{instance_id}: not in the plan")
            continue
        actual = item.to_json()
        if "status" in expected and actual["status"] != expected["status"]:
            problems.append(
                f"{instance_id}: status {actual['status']!r}, expected {expected['status']!r} ({actual['reasons']})"
            )
        if "restart" in expected and actual["restart"] != expected["restart"]:
            problems.append(f"{instance_id}: restart {actual['restart']!r}, expected {expected['restart']!r}")
        problems.extend(estimate_mismatches(instance_id, expected, actual))
        if "changes" in expected:
            got = actual["changes"]
            want = expected["changes"]
            problems.extend(unpinned_changes(instance_id, want))
            if len(got) != len(want):
                problems.append(f"{instance_id}: {len(got)} changes {[c['field'] for c in got]}, expected {len(want)}")
            for index, (g, w) in enumerate(zip(got, want, strict=False)):
                for key, value in w.items():
                    wanted = expand(str(value), run.values)
                    if key in ("before", "after", "reason"):
                        # The texts the plan shows (before/after themselves are typed JSON values).
                        key = f"{key}_text" if key in ("before", "after") else key
                        if wanted not in str(g.get(key)):
                            problems.append(
                                f"{instance_id}: changes[{index}].{key} = {g.get(key)!r}, expected it to contain {wanted!r}"
                            )
                    elif str(g.get(key)) != wanted:
                        problems.append(f"{instance_id}: changes[{index}].{key} = {g.get(key)!r}, expected {wanted!r}")
        if "request" in expected:
            request = actual["request"]
            if expected["request"] is None:
                if request is not None:
                    problems.append(f"{instance_id}: a request was planned, expected none")
            elif request is None:
                problems.append(f"{instance_id}: no request planned")
            else:
                params = {p["name"]: p["value"] for p in request["parameters"]}
                for name, value in expected["request"].items():
                    wanted = expand(str(value), run.values)
                    if value is None and name in params:
                        problems.append(f"{instance_id}: request has {name}, expected it absent")
                    elif value is not None and not _parameter_matches(name, wanted, params.get(name)):
                        problems.append(f"{instance_id}: request {name} = {params.get(name)!r}, expected {wanted!r}")
        if "request_parameters" in expected:
            names = [p["name"] for p in (actual["request"] or {}).get("parameters", [])]
            if names != expected["request_parameters"]:
                problems.append(f"{instance_id}: request parameters {names}, expected {expected['request_parameters']}")
        sources = [r["source"] for r in actual["restart_detail"]["rules"]]
        for text in expected.get("sources_contain", []):
            if not any(text in source for source in sources):
                problems.append(f"{instance_id}: no restart rule source contains {text!r}: {sources}")
        for key, field in (
            ("reasons_contain", "reasons"),
            ("warnings_contain", "warnings"),
            ("notes_contain", "notes"),
        ):
            for text in expected.get(key, []):
                wanted = expand(text, run.values)
                if not any(wanted in entry for entry in actual[field]):
                    problems.append(f"{instance_id}: no {field[:-1]} contains {wanted!r}: {actual[field]}")
        if "warnings" in expected and len(actual["warnings"]) != expected["warnings"]:
            problems.append(
                f"{instance_id}: {len(actual['warnings'])} warnings {actual['warnings']}, expected {expected['warnings']}"
            )
    return problems

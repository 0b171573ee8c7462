"""The drift report as JUnit XML, so a CI dashboard shows drift and expiring certificates as failing tests.

Mapping (documented in ``docs/drift-reports.md``): one ``<testsuites name="rdsssl-reconcile drift">`` with
up to three suites.

- ``instances``: one test case per declared instance, ``classname="drift.<region>"``, ``name=<instance id>``.
  ``in_sync`` passes; ``drifted``, ``pending`` and ``missing`` are a ``<failure>`` (``type`` is the status)
  whose message names the fields and whose body lists each field expected/live, the causes with their
  evidence and the baseline; ``error`` is an ``<error>``; ``ineligible`` is ``<skipped>`` with its reasons.
  Ignored differences do not fail a case: they are listed in its ``<system-out>`` with the rule and reason.
- ``expiry``: one test case per certificate (``classname="expiry.<region>"``, ``name="<instance> <kind>"``),
  a ``<failure>`` when it has expired, is inside its renewal window or the API flags ``RequireUpdate``.
  The name has no fingerprint on purpose: a dashboard keeps a case's history across a renewal.
- ``unmanaged`` (only when regions were scanned): one skipped case per instance no spec covers, with its SSL
  status, and the coverage figure as suite properties.

The document is built with :mod:`xml.etree.ElementTree`, which escapes markup; every value from a spec,
a certificate or the API first goes through :func:`~rdsssl_reconcile.render.markup.markup_text`, so a
control character shows as ``\\x1b`` and nothing XML 1.0 forbids reaches the file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable

from rdsssl_reconcile.drift.model import (
    DRIFT_FORMAT_VERSION,
    CertificateKind,
    DriftReport,
    DriftStatus,
    ExpiryEntry,
    FieldDrift,
    InstanceDrift,
)
from rdsssl_reconcile.render.markup import markup_text

SUITE_NAME = "rdsssl-reconcile drift"
_FAILING = frozenset({DriftStatus.DRIFTED, DriftStatus.PENDING, DriftStatus.MISSING})
_KIND_WORDS = {
    CertificateKind.SERVER_CLOUD: "cloud server certificate",
    CertificateKind.SERVER_CUSTOM: "custom server certificate",
    CertificateKind.SERVER_ISSUED: "issued server certificate",
    CertificateKind.CLIENT_CA: "client CA certificate",
    CertificateKind.CRL: "CRL",
}


def render(report: DriftReport, *, tool_version: str) -> str:
    """The JUnit XML document (UTF-8, with its declaration)."""
    suites = [_instances_suite(report, tool_version), _expiry_suite(report)]
    if report.coverage is not None or report.unmanaged:
        suites.append(_unmanaged_suite(report))
    root = ET.Element("testsuites", name=SUITE_NAME)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(suite.get(key, "0")) for suite in suites)))
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _suite(name: str, report: DriftReport, cases: list[ET.Element]) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=f"{SUITE_NAME}: {name}",
        tests=str(len(cases)),
        failures=str(sum(1 for c in cases if c.find("failure") is not None)),
        errors=str(sum(1 for c in cases if c.find("error") is not None)),
        skipped=str(sum(1 for c in cases if c.find("skipped") is not None)),
        # The Ant schema's timestamp has no zone; it is UTC (the properties carry the zoned stamp).
        timestamp=report.generated_at.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    return suite


def _properties(suite: ET.Element, values: Iterable[tuple[str, str]]) -> None:
    properties = ET.SubElement(suite, "properties")
    for name, value in values:
        ET.SubElement(properties, "property", name=name, value=markup_text(value))


def _case(classname: str, name: str) -> ET.Element:
    return ET.Element("testcase", classname=markup_text(classname), name=markup_text(name))


def _result(case: ET.Element, tag: str, kind: str, message: str, body: list[str] | None = None) -> None:
    result = ET.SubElement(case, tag, type=kind, message=message)
    if body:
        result.text = "\n".join(body)


# -- instances ----------------------------------------------------------------------------------------


def _instances_suite(report: DriftReport, tool_version: str) -> ET.Element:
    cases = [_instance_case(instance) for instance in report.instances]
    suite = _suite("instances", report, cases)
    summary = report.summary
    _properties(
        suite,
        [
            ("tool_version", tool_version),
            ("format_version", DRIFT_FORMAT_VERSION),
            ("generated_at", report.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("exit_code", str(report.exit_code)),
            *((f"summary.{key}", str(value)) for key, value in summary.to_json().items()),
            *(("spec_path", path) for path in report.spec_paths),
        ],
    )
    suite.extend(cases)
    return suite


def _value(value: str | None) -> str:
    return "(none)" if value is None else markup_text(value)


def _field_line(field: FieldDrift) -> str:
    return f"  {markup_text(field.field)}: expected {_value(field.expected)}, live {_value(field.live)}"


def _instance_body(instance: InstanceDrift) -> list[str]:
    title = f"Instance {markup_text(instance.id)} ({markup_text(instance.region)})"
    if instance.description:
        title += f": {markup_text(instance.description)}"
    lines = [title]
    if instance.spec_location:
        lines.append(f"Spec: {markup_text(instance.spec_location)}")
    if instance.baseline:
        lines.append(f"Expected state from: {markup_text(instance.baseline)}")
    if instance.counted_fields:
        lines.append("Fields (expected from the baseline, live from the API):")
        lines.extend(_field_line(f) for f in instance.counted_fields)
    if instance.causes:
        lines.append("Likely causes:")
        lines.extend(f"  - {markup_text(c.summary)} (based on: {markup_text(c.evidence)})" for c in instance.causes)
    if instance.reasons:
        lines.append("Reasons:")
        lines.extend(f"  - {markup_text(reason)}" for reason in instance.reasons)
    if instance.error:
        lines.append(f"Error: {markup_text(instance.error)}")
    return lines


def _names(fields: Iterable[FieldDrift]) -> str:
    return ", ".join(markup_text(f.field) for f in fields)


def _instance_message(instance: InstanceDrift) -> str:
    counted = instance.counted_fields
    match instance.status:
        case DriftStatus.DRIFTED:
            noun = "field differs" if len(counted) == 1 else "fields differ"
            return f"drifted: {len(counted)} {noun} from what was applied: {_names(counted)}"
        case DriftStatus.PENDING:
            return f"pending: the spec changed and was not applied yet: {_names(counted)}"
        case DriftStatus.MISSING:
            return "missing: declared but not found" + "".join(f"; {markup_text(r)}" for r in instance.reasons)
        case DriftStatus.ERROR:
            return f"error: {markup_text(instance.error or 'the instance could not be read')}"
        case _:
            return f"ineligible: {'; '.join(markup_text(r) for r in instance.reasons) or 'cannot satisfy its spec'}"


def _instance_case(instance: InstanceDrift) -> ET.Element:
    case = _case(f"drift.{instance.region}", instance.id)
    status = instance.status
    if status in _FAILING:
        _result(case, "failure", status.value, _instance_message(instance), _instance_body(instance))
    elif status is DriftStatus.ERROR:
        _result(case, "error", status.value, _instance_message(instance), _instance_body(instance))
    elif status is DriftStatus.INELIGIBLE:
        _result(case, "skipped", status.value, _instance_message(instance))
    ignored = [f for f in instance.fields if f.ignored]
    if ignored:
        out = ET.SubElement(case, "system-out")
        lines = [f"Ignored differences ({len(ignored)}, not counted as drift):"]
        for f in ignored:
            lines.append(_field_line(f))
            rule = f" by {markup_text(f.ignore_rule)}" if f.ignore_rule else ""
            lines.append(f"    ignored{rule}: {markup_text(f.ignore_reason or 'no reason given')}")
        out.text = "\n".join(lines)
    return case


# -- expiry ---------------------------------------------------------------------------------------------


def _expiry_name(entry: ExpiryEntry) -> str:
    return f"{entry.instance_id} {entry.kind.value}"


def _expiry_suite(report: DriftReport) -> ET.Element:
    seen: Counter[tuple[str, str]] = Counter()
    cases = []
    for entry in sorted(report.expiry, key=lambda e: (e.not_after, e.instance_id, e.kind.value)):
        key = (entry.region, _expiry_name(entry))
        seen[key] += 1
        cases.append(_expiry_case(entry, seen[key]))
    suite = _suite("expiry", report, cases)
    suite.extend(cases)
    return suite


def _expiry_case(entry: ExpiryEntry, occurrence: int) -> ET.Element:
    name = _expiry_name(entry) + ("" if occurrence == 1 else f" #{occurrence}")
    case = _case(f"expiry.{entry.region}", name)
    what = _KIND_WORDS[entry.kind]
    crl = entry.kind is CertificateKind.CRL
    ends = "next update" if crl else "expiry"
    when = entry.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    problems = []
    if entry.days_left < 0:
        past = f"is past its next update ({when}" if crl else f"expired ({when}"
        problems.append(("expired", f"{what} {past}, {-entry.days_left} days ago)"))
    elif entry.in_renewal_window:
        due = "next update" if crl else "expires"
        problems.append(("renewal_due", f"{what} {due} in {entry.days_left} days ({when}), inside its renewal window"))
    if entry.require_update:
        problems.append(("require_update", f"{what}: the API reports RequireUpdate (it must be updated)"))
    if problems:
        body = [
            f"Instance: {markup_text(entry.instance_id)} ({markup_text(entry.region)})",
            f"Subject: {markup_text(entry.subject)}",
            f"Fingerprint (SHA-256): {_value(entry.fingerprint)}",
            f"{ends.capitalize()}: {when} ({entry.days_left} days left)",
        ]
        _result(case, "failure", problems[0][0], "; ".join(message for _, message in problems), body)
    return case


# -- unmanaged --------------------------------------------------------------------------------------


def _unmanaged_suite(report: DriftReport) -> ET.Element:
    cases = []
    for instance in report.unmanaged:
        case = _case(f"unmanaged.{instance.region}", instance.id)
        ssl = {True: "SSL on", False: "SSL off", None: "SSL status unknown"}[instance.ssl_enabled]
        about = f" ({markup_text(instance.description)})" if instance.description else ""
        _result(case, "skipped", "unmanaged", f"unmanaged: no spec covers this instance{about}; {ssl}")
        cases.append(case)
    suite = _suite("unmanaged", report, cases)
    coverage = report.coverage
    if coverage is not None:
        ratio = coverage.ratio
        _properties(
            suite,
            [
                ("coverage.managed", str(coverage.managed)),
                ("coverage.scanned", str(coverage.scanned)),
                ("coverage.ratio", "" if ratio is None else f"{ratio:.4f}"),
                *(("coverage.region", region) for region in coverage.regions),
            ],
        )
    suite.extend(cases)
    return suite

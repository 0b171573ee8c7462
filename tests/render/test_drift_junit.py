"""The drift report as JUnit XML, read back by junitparser as a CI dashboard would read it (issue 11, acceptance 4)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from rdsssl_reconcile.drift.model import DriftStatus
from rdsssl_reconcile.render.drift_junit import SUITE_NAME, render
from rdsssl_reconcile.render.markup import markup_text
from rdsssl_reconcile.textsafe import visible
from tests.drift.factories import HOSTILE, fleet_report, quiet_report

VERSION = "9.9.9-test"


def parse(text: str) -> JUnitXml:
    document = JUnitXml.fromstring(text.encode("utf-8"))
    assert isinstance(document, JUnitXml)
    return document


def suites(document: JUnitXml) -> dict[str, TestSuite]:
    return {suite.name.removeprefix(f"{SUITE_NAME}: "): suite for suite in document}


def cases(suite: TestSuite) -> dict[str, TestCase]:
    return {case.name: case for case in suite}


def test_one_case_per_declared_instance_classed_by_region() -> None:
    report = fleet_report()
    instances = suites(parse(render(report, tool_version=VERSION)))["instances"]
    assert [(c.classname, c.name) for c in instances] == [(f"drift.{i.region}", i.id) for i in report.instances]


def test_statuses_map_to_results() -> None:
    report = fleet_report()
    by_name = cases(suites(parse(render(report, tool_version=VERSION)))["instances"])
    expected_kind = {
        DriftStatus.IN_SYNC: None,
        DriftStatus.DRIFTED: Failure,
        DriftStatus.PENDING: Failure,
        DriftStatus.MISSING: Failure,
        DriftStatus.ERROR: Error,
        DriftStatus.INELIGIBLE: Skipped,
    }
    for instance in report.instances:
        results = by_name[instance.id].result
        kind = expected_kind[instance.status]
        if kind is None:
            assert results == [], instance.id
            assert by_name[instance.id].is_passed
        else:
            assert [type(r) for r in results] == [kind], instance.id
            assert results[0].type == instance.status.value


def test_counts_agree_with_the_report_and_with_the_cases() -> None:
    report = fleet_report()
    document = parse(render(report, tool_version=VERSION))
    parts = suites(document)
    summary = report.summary
    instances = parts["instances"]
    assert (instances.tests, instances.failures, instances.errors, instances.skipped) == (
        len(report.instances),
        summary.drifted + summary.pending + summary.missing,
        summary.error,
        summary.ineligible,
    )
    assert parts["expiry"].tests == len(report.expiry)
    assert parts["expiry"].failures == summary.expiring
    assert parts["unmanaged"].skipped == summary.unmanaged
    declared = [(s.tests, s.failures, s.errors, s.skipped) for s in document]
    declared_total = (document.tests, document.failures, document.errors, document.skipped)
    # junitparser recounts from the cases themselves: the attributes must not be made up.
    for suite in document:
        suite.update_statistics()
    document.update_statistics()
    assert [(s.tests, s.failures, s.errors, s.skipped) for s in document] == declared
    assert (document.tests, document.failures, document.errors, document.skipped) == declared_total


def test_drift_failure_names_fields_expected_live_and_causes() -> None:
    report = fleet_report()
    drifted = report.instances[1]
    assert drifted.status is DriftStatus.DRIFTED
    case = cases(suites(parse(render(report, tool_version=VERSION)))["instances"])[drifted.id]
    failure = case.result[0]
    for field in drifted.counted_fields:
        assert field.field in failure.message
        assert f"{field.field}: expected {field.expected or '(none)'}, live {field.live or '(none)'}" in failure.text
    for cause in drifted.causes:
        assert f"{cause.summary} (based on: {markup_text(cause.evidence)})" in failure.text
    assert drifted.baseline in failure.text
    ignored = [f for f in drifted.fields if f.ignored]
    assert ignored
    for field in ignored:
        assert field.field not in failure.message  # an ignored difference does not fail the case...
        assert field.field in case.system_out  # ...but it is still listed, with its rule and reason
        assert f"ignored by {field.ignore_rule}: {markup_text(field.ignore_reason)}" in case.system_out


def test_ignored_difference_alone_passes_and_is_listed() -> None:
    report = fleet_report()
    in_sync = report.instances[0]
    assert in_sync.status is DriftStatus.IN_SYNC
    assert in_sync.fields
    case = cases(suites(parse(render(report, tool_version=VERSION)))["instances"])[in_sync.id]
    assert case.is_passed
    assert in_sync.fields[0].ignore_reason in case.system_out


def test_pending_missing_error_ineligible_messages() -> None:
    report = fleet_report()
    by_status = {i.status: i for i in reversed(report.instances)}
    by_name = cases(suites(parse(render(report, tool_version=VERSION)))["instances"])
    pending = by_name[by_status[DriftStatus.PENDING].id].result[0]
    assert pending.message.startswith("pending: the spec changed and was not applied yet")
    missing = by_name[by_status[DriftStatus.MISSING].id].result[0]
    assert missing.message.startswith("missing: declared but not found")
    assert by_status[DriftStatus.MISSING].reasons[0] in missing.message
    error = by_name[by_status[DriftStatus.ERROR].id].result[0]
    assert error.message == f"error: {markup_text(by_status[DriftStatus.ERROR].error)}"
    skipped = by_name[by_status[DriftStatus.INELIGIBLE].id].result[0]
    for reason in by_status[DriftStatus.INELIGIBLE].reasons:
        assert markup_text(reason) in skipped.message


def test_expiring_certificates_fail_and_valid_ones_pass() -> None:
    report = fleet_report()
    expiry = cases(suites(parse(render(report, tool_version=VERSION)))["expiry"])
    assert len(expiry) == len(report.expiry)
    for entry in report.expiry:
        case = expiry[f"{entry.instance_id} {entry.kind.value}"]
        assert case.classname == f"expiry.{entry.region}"
        due = entry.in_renewal_window or entry.require_update or entry.days_left < 0
        assert case.is_passed is not due, entry
        if due:
            failure = case.result[0]
            assert isinstance(failure, Failure)
            assert f"{entry.days_left} days left" in failure.text
            if entry.require_update:
                assert "RequireUpdate" in failure.message
            elif entry.days_left < 0:
                assert failure.type == "expired"
            else:
                assert failure.type == "renewal_due"
                assert f"in {entry.days_left} days" in failure.message


def test_a_second_certificate_of_the_same_kind_gets_its_own_case() -> None:
    report = fleet_report()
    twin = replace(report.expiry[0], fingerprint="00" * 32)
    expiry = suites(parse(render(replace(report, expiry=(*report.expiry, twin)), tool_version=VERSION)))["expiry"]
    names = [c.name for c in expiry]
    assert len(names) == len(set(names)) == len(report.expiry) + 1


def test_unmanaged_and_coverage() -> None:
    report = fleet_report()
    unmanaged = suites(parse(render(report, tool_version=VERSION)))["unmanaged"]
    by_name = cases(unmanaged)
    assert sorted(by_name) == sorted(u.id for u in report.unmanaged)
    assert "SSL off" in by_name[report.unmanaged[0].id].result[0].message
    properties = {p.name: p.value for p in unmanaged.properties()}
    assert report.coverage is not None
    assert properties["coverage.managed"] == str(report.coverage.managed)
    assert properties["coverage.scanned"] == str(report.coverage.scanned)


def test_no_scan_means_no_unmanaged_suite() -> None:
    document = parse(render(quiet_report(), tool_version=VERSION))
    assert sorted(suites(document)) == ["expiry", "instances"]
    assert document.failures == document.errors == 0


def test_tool_version_and_exit_code_are_properties() -> None:
    report = fleet_report()
    instances = suites(parse(render(report, tool_version=VERSION)))["instances"]
    properties = {p.name: p.value for p in instances.properties()}
    assert properties["tool_version"] == VERSION
    assert properties["exit_code"] == str(report.exit_code)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_visible_and_the_document_stays_well_formed(hostile: str) -> None:
    """Control characters, markup and XML-forbidden characters from a spec or the API cannot break the file."""
    report = fleet_report()
    target = replace(report.instances[1], description=hostile, error=hostile, status=DriftStatus.ERROR)
    document = parse(render(replace(report, instances=(target,)), tool_version=VERSION))
    error = cases(suites(document)["instances"])[target.id].result[0]
    shown = markup_text(hostile)
    assert error.message == f"error: {shown}"
    assert shown in error.text
    assert visible(shown) == shown  # nothing left that could act on a terminal
    assert not any(ord(c) in (0xFFFE, 0xFFFF) for c in error.message + error.text)


def test_fleet_document_with_every_hostile_string_parses() -> None:
    text = render(fleet_report(), tool_version=VERSION)
    parse(text)
    for hostile in HOSTILE:
        assert hostile not in text

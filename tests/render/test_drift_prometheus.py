"""The drift report as Prometheus text exposition, read back by prometheus_client's parser (issue 11, acceptance 4)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from rdsssl_reconcile.drift.model import Coverage, DriftStatus
from rdsssl_reconcile.render.drift_prometheus import render
from rdsssl_reconcile.textsafe import visible
from tests.drift.factories import HOSTILE, HOSTILE_SUBJECT, fleet_report, quiet_report

VERSION = "9.9.9-test"


def samples(text: str) -> dict[str, list[Sample]]:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def by_instance(family: list[Sample]) -> dict[tuple[str, str], float]:
    return {(s.labels["instance"], s.labels["region"]): s.value for s in family}


def test_every_family_has_help_and_type_and_no_sample_has_a_timestamp() -> None:
    text = render(fleet_report(), tool_version=VERSION)
    families = list(text_string_to_metric_families(text))
    assert families
    for family in families:
        assert family.type == "gauge", family.name
        assert family.documentation, family.name
        assert re.search(rf"^# TYPE {family.name} gauge$", text, re.MULTILINE), family.name
        assert re.search(rf"^# HELP {family.name} \S", text, re.MULTILINE), family.name
        for sample in family.samples:
            assert sample.timestamp is None  # node_exporter's textfile collector refuses client timestamps
    assert text.endswith("\n")


def test_certificate_expiry_timestamps() -> None:
    report = fleet_report()
    expiry = samples(render(report, tool_version=VERSION))["rdsssl_certificate_expiry_timestamp_seconds"]
    assert len(expiry) == len(report.expiry)
    got = {(s.labels["instance"], s.labels["region"], s.labels["kind"], s.labels["fingerprint"]): s for s in expiry}
    for entry in report.expiry:
        sample = got[(entry.instance_id, entry.region, entry.kind.value, entry.fingerprint or "")]
        assert sample.value == entry.not_after.timestamp()
        assert sample.labels["subject"] == visible(entry.subject)


def test_renewal_window_and_require_update_flags() -> None:
    report = fleet_report()
    families = samples(render(report, tool_version=VERSION))
    window = {
        (s.labels["instance"], s.labels["kind"]): s.value for s in families["rdsssl_certificate_in_renewal_window"]
    }
    require = {(s.labels["instance"], s.labels["kind"]): s.value for s in families["rdsssl_certificate_require_update"]}
    for entry in report.expiry:
        key = (entry.instance_id, entry.kind.value)
        assert window[key] == (1 if entry.in_renewal_window or entry.days_left < 0 else 0), entry
        assert require[key] == (1 if entry.require_update else 0), entry
    assert sum(window.values()) + sum(require.values()) >= report.summary.expiring


def test_instance_drifted_and_one_hot_status() -> None:
    report = fleet_report()
    families = samples(render(report, tool_version=VERSION))
    drifted = by_instance(families["rdsssl_instance_drifted"])
    assert drifted == {(i.id, i.region): (1 if i.status is DriftStatus.DRIFTED else 0) for i in report.instances}
    status = families["rdsssl_instance_status"]
    assert len(status) == len(report.instances) * len(DriftStatus)
    ones = {(s.labels["instance"], s.labels["status"]) for s in status if s.value == 1}
    assert ones == {(i.id, i.status.value) for i in report.instances}
    fields = by_instance(families["rdsssl_instance_drifted_fields"])
    ignored = by_instance(families["rdsssl_instance_ignored_fields"])
    for instance in report.instances:
        assert fields[(instance.id, instance.region)] == len(instance.counted_fields)
        assert ignored[(instance.id, instance.region)] == sum(1 for f in instance.fields if f.ignored)


def test_report_timestamp_exit_code_and_info() -> None:
    report = fleet_report()
    families = samples(render(report, tool_version=VERSION))
    assert families["rdsssl_drift_report_timestamp_seconds"][0].value == report.generated_at.timestamp()
    assert families["rdsssl_drift_exit_code"][0].value == report.exit_code
    assert families["rdsssl_drift_info"][0].labels["tool_version"] == VERSION


def test_coverage_and_unmanaged() -> None:
    report = fleet_report()
    families = samples(render(report, tool_version=VERSION))
    assert report.coverage is not None
    assert families["rdsssl_coverage_ratio"][0].value == pytest.approx(report.coverage.ratio)
    assert families["rdsssl_coverage_managed_instances"][0].value == report.coverage.managed
    assert families["rdsssl_coverage_scanned_instances"][0].value == report.coverage.scanned
    ssl = {s.labels["instance"]: s.labels["ssl"] for s in families["rdsssl_unmanaged_instance"]}
    assert ssl == {u.id: {True: "on", False: "off", None: "unknown"}[u.ssl_enabled] for u in report.unmanaged}


def test_without_a_scan_there_is_no_coverage_and_an_empty_scan_has_no_ratio() -> None:
    families = samples(render(quiet_report(), tool_version=VERSION))
    assert not {"rdsssl_coverage_ratio", "rdsssl_unmanaged_instance"} & set(families)
    empty = replace(quiet_report(), coverage=Coverage(("cn-hangzhou",), 0, 0))
    families = samples(render(empty, tool_version=VERSION))
    assert "rdsssl_coverage_ratio" not in families  # 0/0 is no figure, not 0 %
    assert families["rdsssl_coverage_scanned_instances"][0].value == 0


def test_a_duplicate_certificate_is_one_series_with_the_sooner_expiry() -> None:
    report = fleet_report()
    first = report.expiry[0]
    later = replace(first, not_after=first.not_after.replace(year=first.not_after.year + 1), days_left=400)
    expiry = samples(render(replace(report, expiry=(later, *report.expiry)), tool_version=VERSION))[
        "rdsssl_certificate_expiry_timestamp_seconds"
    ]
    matching = [s for s in expiry if s.labels["instance"] == first.instance_id and s.labels["kind"] == first.kind.value]
    assert [s.value for s in matching] == [first.not_after.timestamp()]


@pytest.mark.parametrize("hostile", [*HOSTILE, 'a"b\\c\nd', "\\"])
def test_label_values_are_escaped_and_visible(hostile: str) -> None:
    """Quotes, backslashes and newlines are escaped by the format; control characters are made visible."""
    report = fleet_report()
    instance = replace(report.instances[1], id=hostile, region=hostile)
    entry = replace(report.expiry[0], instance_id=hostile, subject=hostile)
    text = render(replace(report, instances=(instance,), expiry=(entry,)), tool_version=VERSION)
    families = samples(text)
    assert by_instance(families["rdsssl_instance_drifted"]) == {(visible(hostile), visible(hostile)): 1}
    (cert,) = families["rdsssl_certificate_expiry_timestamp_seconds"]
    assert cert.labels["subject"] == visible(hostile)
    assert hostile not in text or visible(hostile) == hostile
    assert all(visible(line) == line for line in text.split("\n"))  # the file is safe to cat


def test_the_factory_subject_reaches_the_file_escaped() -> None:
    text = render(fleet_report(), tool_version=VERSION)
    assert HOSTILE_SUBJECT not in text
    subjects = {s.labels["subject"] for s in samples(text)["rdsssl_certificate_expiry_timestamp_seconds"]}
    assert visible(HOSTILE_SUBJECT) in subjects

"""The drift report as Prometheus text exposition, for node_exporter's textfile collector.

Why these metrics: cert-manager users alert on an expiry timestamp (``expiry - time() < 21d``), so
certificates are exposed the same way, with the renewal-window and ``RequireUpdate`` verdicts beside them;
drift is a 0/1 gauge per instance plus a one-hot status, so one alert rule covers every status without
parsing text. Every family is a gauge (a nightly job replaces the file; nothing here counts up) and has
HELP and TYPE lines. No sample carries a timestamp: the textfile collector rejects client-side timestamps,
so the report's own time is ``rdsssl_drift_report_timestamp_seconds`` (alert when it gets old).

Written by ``prometheus_client`` (the reference implementation), which escapes label values (backslash,
double quote, newline) as the format requires. Values from specs, certificates and the API are first made
:func:`~rdsssl_reconcile.textsafe.visible`, so the file is also safe to ``cat``; ids are printable, so their
labels are unchanged and join with other exporters' ``instance_id``-style labels.

A label set appears once per family (Prometheus rejects a file with a duplicate series): when two
certificates of one instance share kind and fingerprint, the sooner expiry is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from rdsssl_reconcile.drift.model import DRIFT_FORMAT_VERSION, DriftReport, DriftStatus, ExpiryEntry
from rdsssl_reconcile.textsafe import visible

PREFIX = "rdsssl"
INSTANCE_LABELS = ("instance", "region")
CERTIFICATE_LABELS = ("instance", "region", "kind", "fingerprint", "subject")


def render(report: DriftReport, *, tool_version: str) -> str:
    """The exposition text (UTF-8 when written), ready to be moved into the collector's directory."""
    return generate_latest(_ReportCollector(report, tool_version)).decode("utf-8")


class _ReportCollector(Collector):
    """The report's families, in the order a reader of the file expects: report, instances, certificates."""

    def __init__(self, report: DriftReport, tool_version: str) -> None:
        self._report = report
        self._tool_version = tool_version

    def collect(self) -> Iterable[Metric]:
        report = self._report
        yield from _report_families(report, self._tool_version)
        yield from _instance_families(report)
        yield from _certificate_families(report.expiry)
        yield from _scan_families(report)


def _gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels))


def _report_families(report: DriftReport, tool_version: str) -> Iterator[Metric]:
    info = InfoMetricFamily(f"{PREFIX}_drift", "The tool and report format that wrote this file.")
    info.add_metric([], {"tool_version": visible(tool_version), "format_version": DRIFT_FORMAT_VERSION})
    yield info
    stamp = _gauge("drift_report_timestamp_seconds", "When the drift report was generated (Unix time).")
    stamp.add_metric([], report.generated_at.timestamp())
    yield stamp
    code = _gauge("drift_exit_code", "The drift command's exit code: 0 no drift, 2 drift/pending/expiring, 1 error.")
    code.add_metric([], report.exit_code)
    yield code


def _instance_families(report: DriftReport) -> Iterator[Metric]:
    drifted = _gauge(
        "instance_drifted", "1 if live SSL differs from what was applied (status drifted).", INSTANCE_LABELS
    )
    status = _gauge(
        "instance_status",
        "The declared instance's drift status (one series per status, 1 for its own).",
        (*INSTANCE_LABELS, "status"),
    )
    fields = _gauge("instance_drifted_fields", "Fields that differ, ignored ones not counted.", INSTANCE_LABELS)
    ignored = _gauge("instance_ignored_fields", "Differences suppressed by an ignore rule.", INSTANCE_LABELS)
    seen: set[tuple[str, ...]] = set()
    for instance in report.instances:
        labels = [visible(instance.id), visible(instance.region)]
        if tuple(labels) in seen:
            continue
        seen.add(tuple(labels))
        drifted.add_metric(labels, 1 if instance.status is DriftStatus.DRIFTED else 0)
        for value in DriftStatus:
            status.add_metric([*labels, value.value], 1 if instance.status is value else 0)
        fields.add_metric(labels, len(instance.counted_fields))
        ignored.add_metric(labels, len(instance.fields) - len(instance.counted_fields))
    yield from (drifted, status, fields, ignored)


def _certificate_families(expiry: Sequence[ExpiryEntry]) -> Iterator[Metric]:
    timestamp = _gauge(
        "certificate_expiry_timestamp_seconds",
        "When the certificate expires, or for a CRL its next update (Unix time).",
        CERTIFICATE_LABELS,
    )
    window = _gauge(
        "certificate_in_renewal_window",
        "1 if the certificate is inside its renewal window (or expired).",
        CERTIFICATE_LABELS,
    )
    require = _gauge(
        "certificate_require_update", "1 if DescribeDBInstanceSSL reports RequireUpdate for it.", CERTIFICATE_LABELS
    )
    seen: set[tuple[str, ...]] = set()
    for entry in sorted(expiry, key=lambda e: e.not_after):
        labels = [
            visible(entry.instance_id),
            visible(entry.region),
            entry.kind.value,
            visible(entry.fingerprint or ""),
            visible(entry.subject),
        ]
        key = tuple(labels[:4])
        if key in seen:
            continue
        seen.add(key)
        timestamp.add_metric(labels, entry.not_after.timestamp())
        window.add_metric(labels, 1 if entry.in_renewal_window or entry.days_left < 0 else 0)
        require.add_metric(labels, 1 if entry.require_update else 0)
    yield from (timestamp, window, require)


def _scan_families(report: DriftReport) -> Iterator[Metric]:
    if report.coverage is None and not report.unmanaged:
        return
    unmanaged = _gauge(
        "unmanaged_instance",
        "A PostgreSQL instance of a scanned region that no spec covers (always 1; ssl is on, off or unknown).",
        (*INSTANCE_LABELS, "ssl"),
    )
    seen: set[tuple[str, str]] = set()
    for instance in report.unmanaged:
        key = (visible(instance.id), visible(instance.region))
        if key in seen:
            continue
        seen.add(key)
        ssl = {True: "on", False: "off", None: "unknown"}[instance.ssl_enabled]
        unmanaged.add_metric([*key, ssl], 1)
    yield unmanaged
    coverage = report.coverage
    if coverage is None:
        return
    managed = _gauge("coverage_managed_instances", "Instances of the scanned regions that a spec covers.")
    managed.add_metric([], coverage.managed)
    scanned = _gauge("coverage_scanned_instances", "PostgreSQL instances found in the scanned regions.")
    scanned.add_metric([], coverage.scanned)
    yield from (managed, scanned)
    if coverage.ratio is not None:
        ratio = _gauge("coverage_ratio", "Managed over scanned instances (absent when nothing was found).")
        ratio.add_metric([], coverage.ratio)
        yield ratio

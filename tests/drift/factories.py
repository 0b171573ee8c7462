"""A realistic drift report built from the model's values, shared by the renderer tests.

Why one factory: every format (text, JSON, Markdown, JUnit, HTML, Prometheus) is a view of the same report,
so each renderer is tested on the same fleet: one instance of every status, a drift with several fields
(one of them ignored by a rule), an expiry entry of every certificate kind (inside and outside the renewal
window, expired, ``RequireUpdate``), unmanaged instances and a coverage figure. :data:`HOSTILE` strings
(control characters, HTML and XML specials, a bidi override, an XML-forbidden noncharacter) are put in
every place a spec, a certificate or the API can put text, so a test can prove the format escapes them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rdsssl_reconcile.drift.model import (
    Cause,
    CauseKind,
    CertificateKind,
    Coverage,
    DriftReport,
    DriftStatus,
    ExpiryEntry,
    FieldDrift,
    InstanceDrift,
    UnmanagedInstance,
)

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
FINGERPRINT_OLD = "3f" * 32
FINGERPRINT_NEW = "a1" * 32

#: Text that must never reach a terminal, a browser or an XML parser raw: a cursor move, an OSC 52 clipboard
#: write, a bidi override, a newline that could forge a line, markup, quotes, a NUL and U+FFFE (forbidden in
#: XML 1.0 and not a control character, so :func:`~rdsssl_reconcile.textsafe.visible` leaves it).
HOSTILE_DESCRIPTION = "orders <b>primary</b> & \"replica\" 'x'\x1b[2A\u202etxt.exe\nPlan: 0 to change"
HOSTILE_REASON = 'SSL </td></tr><script>alert(1)</script> off\x07\x00 \\ "quoted"\ufffe'
HOSTILE_SUBJECT = 'CN=<img src="http://evil.example/x.png">,O=A&B\x1b]52;c;Zm9v\x07'
HOSTILE_EVIDENCE = "ModifyStatusReason: ]]><!--\r\n--></x>\u2066isolated\u2069"
HOSTILE = (HOSTILE_DESCRIPTION, HOSTILE_REASON, HOSTILE_SUBJECT, HOSTILE_EVIDENCE)


def _days(n: float) -> datetime:
    return NOW + timedelta(days=n)


def fleet_instances() -> tuple[InstanceDrift, ...]:
    """One declared instance of each status, in the order a spec directory would list them."""
    return (
        InstanceDrift(
            id="pgm-bp1insync00000001",
            region="cn-hangzhou",
            status=DriftStatus.IN_SYNC,
            fields=(
                FieldDrift(
                    "ssl.acl",
                    "prefer",
                    "verify-ca",
                    ignored=True,
                    ignore_reason="reporting jobs connect with verify-ca until 2027",
                    ignore_rule=".rdsssl-ignore.yaml:3",
                ),
            ),
            baseline="audit log, apply of 2026-11-30T10:00:00Z",
            spec_location="specs/hangzhou/insync.yaml",
            description="payments primary",
        ),
        InstanceDrift(
            id="pgm-bp1drifted0000002",
            region="cn-hangzhou",
            status=DriftStatus.DRIFTED,
            fields=(
                FieldDrift("ssl.enabled", "true", "false"),
                FieldDrift("ssl.force_encryption", "on", "off"),
                FieldDrift(
                    "ssl.server_certificate",
                    f"cloud certificate, fingerprint {FINGERPRINT_OLD[:16]}, expires 2026-12-10",
                    f"cloud certificate, fingerprint {FINGERPRINT_NEW[:16]}, expires 2027-12-10",
                ),
                FieldDrift(
                    "ssl.replication_acl",
                    "cert",
                    "prefer",
                    ignored=True,
                    ignore_reason=HOSTILE_REASON,
                    ignore_rule=".rdsssl-ignore.yaml:9",
                ),
                FieldDrift("ssl.client_ca", None, "CN=Unknown CA"),
            ),
            causes=(
                Cause(
                    CauseKind.CLOUD_RENEWAL,
                    "the cloud certificate was renewed by Alibaba Cloud",
                    "same CA type and endpoints, later expiry (2027-12-10), new fingerprint",
                ),
                Cause(
                    CauseKind.OUTSIDE_CHANGE,
                    "SSL was changed outside the tool",
                    "the audit log records apply of 2026-11-30T10:00:00Z with SSL on; no apply since",
                ),
            ),
            baseline="audit log, apply of 2026-11-30T10:00:00Z",
            spec_location="specs/hangzhou/drifted.yaml",
            description=HOSTILE_DESCRIPTION,
        ),
        InstanceDrift(
            id="pgm-uf6pending0000003",
            region="cn-shanghai",
            status=DriftStatus.PENDING,
            fields=(FieldDrift("ssl.force_encryption", "on", "off"),),
            causes=(
                Cause(
                    CauseKind.SPEC_CHANGED,
                    "the spec changed since the last apply",
                    "saved plan plan.json: force_encryption off; the spec now says on",
                ),
            ),
            baseline="saved plan plan.json",
            spec_location="specs/shanghai/pending.yaml",
        ),
        InstanceDrift(
            id="pgm-uf6missing0000004",
            region="cn-shanghai",
            status=DriftStatus.MISSING,
            reasons=("DescribeDBInstanceAttribute: InvalidDBInstanceId.NotFound",),
            baseline="spec (no applied record found)",
            spec_location="specs/shanghai/missing.yaml",
        ),
        InstanceDrift(
            id="pgm-2zeerror000000005",
            region="cn-beijing",
            status=DriftStatus.ERROR,
            error="DescribeDBInstanceSSL: Throttling.User " + HOSTILE_EVIDENCE,
            spec_location="specs/beijing/error.yaml",
        ),
        InstanceDrift(
            id="pgm-2zeinelig00000006",
            region="cn-beijing",
            status=DriftStatus.INELIGIBLE,
            reasons=("Basic Edition instances do not support SSL", HOSTILE_REASON),
            spec_location="specs/beijing/basic.yaml",
        ),
        InstanceDrift(
            id="pgm-bp1progress00007",
            region="cn-hangzhou",
            status=DriftStatus.DRIFTED,
            fields=(FieldDrift("ssl.acl", "verify-full", "verify-ca"),),
            causes=(
                Cause(
                    CauseKind.IN_PROGRESS,
                    "a change is still in progress",
                    "LastModifyStatus: running; " + HOSTILE_EVIDENCE,
                ),
            ),
            baseline="spec (no applied record found)",
            spec_location="specs/hangzhou/progress.yaml",
        ),
    )


def fleet_expiry() -> tuple[ExpiryEntry, ...]:
    """A certificate of every kind: in the window, comfortably valid, expired and flagged ``RequireUpdate``."""
    return (
        ExpiryEntry(
            "pgm-bp1drifted0000002",
            "cn-hangzhou",
            CertificateKind.SERVER_CLOUD,
            "CN=pgm-bp1drifted0000002.pg.rds.aliyuncs.com",
            FINGERPRINT_OLD,
            _days(9),
            9,
            in_renewal_window=True,
        ),
        ExpiryEntry(
            "pgm-bp1insync00000001",
            "cn-hangzhou",
            CertificateKind.SERVER_CUSTOM,
            HOSTILE_SUBJECT,
            "c4" * 32,
            _days(200),
            200,
            in_renewal_window=False,
        ),
        ExpiryEntry(
            "pgm-uf6pending0000003",
            "cn-shanghai",
            CertificateKind.SERVER_ISSUED,
            "CN=pending.db.example.com",
            "5e" * 32,
            _days(21),
            21,
            in_renewal_window=True,
        ),
        ExpiryEntry(
            "pgm-bp1insync00000001",
            "cn-hangzhou",
            CertificateKind.CLIENT_CA,
            "CN=Example Client CA",
            "77" * 32,
            _days(3650),
            3650,
            in_renewal_window=False,
        ),
        ExpiryEntry(
            "pgm-bp1insync00000001",
            "cn-hangzhou",
            CertificateKind.CRL,
            "CN=Example Client CA (CRL)",
            None,
            _days(-2),
            -2,
            in_renewal_window=True,
        ),
        ExpiryEntry(
            "pgm-bp1progress00007",
            "cn-hangzhou",
            CertificateKind.SERVER_CLOUD,
            "CN=pgm-bp1progress00007.pg.rds.aliyuncs.com",
            "9b" * 32,
            _days(80),
            80,
            in_renewal_window=False,
            require_update=True,
        ),
    )


def fleet_report(**changes: object) -> DriftReport:
    """The whole fleet: scanned regions with two unmanaged instances; ``changes`` replace report fields."""
    report = DriftReport(
        instances=fleet_instances(),
        expiry=fleet_expiry(),
        generated_at=NOW,
        target={"endpoint": "https://rds.aliyuncs.com", "regions": ["cn-hangzhou", "cn-shanghai", "cn-beijing"]},
        spec_paths=("specs",),
        unmanaged=(
            UnmanagedInstance("pgm-bp1nobody0000008", "cn-hangzhou", False, HOSTILE_DESCRIPTION, "Running"),
            UnmanagedInstance("pgm-uf6nobody0000009", "cn-shanghai", None, None, "Creating"),
            UnmanagedInstance("pgm-uf6nobody0000010", "cn-shanghai", True, "analytics", "Running"),
        ),
        coverage=Coverage(("cn-hangzhou", "cn-shanghai", "cn-beijing"), managed=7, scanned=10),
    )
    return replace(report, **changes) if changes else report  # type: ignore[arg-type]


def quiet_report() -> DriftReport:
    """A fleet with nothing to report: one instance in sync, no certificate due, no scan."""
    return DriftReport(
        instances=(fleet_instances()[0],),
        expiry=(fleet_expiry()[3],),
        generated_at=NOW,
        target={"endpoint": "https://rds.aliyuncs.com"},
    )

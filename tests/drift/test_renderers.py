"""Text, JSON and Markdown are functions of one report: schema, round trip, banners, budget, escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
import jsonschema
import pytest
from markdown_it import MarkdownIt

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
    report_from_json,
)
from rdsssl_reconcile.render.drift_json import drift_schema, render_drift_json
from rdsssl_reconcile.render.drift_markdown import render_drift_markdown
from rdsssl_reconcile.render.drift_text import render_drift_text

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVIL = "x\x1b[2A\n> [!NOTE]\n</details>|"


def instance(n: int, status: DriftStatus, *, description: str | None = None) -> InstanceDrift:
    drifting = status in (DriftStatus.DRIFTED, DriftStatus.PENDING)
    return InstanceDrift(
        id=f"pgm-{n:04d}",
        region="cn-hangzhou",
        status=status,
        description=description,
        fields=(
            FieldDrift("ssl.enabled", "true", "false"),
            FieldDrift(
                "ssl.client_ca.acl", "verify-ca", "prefer", True, "owned by the DBA team", "s/.rdsssl-ignore.yaml:2"
            ),
        )
        if drifting
        else (),
        causes=(Cause(CauseKind.OUTSIDE_CHANGE, "changed outside the tool", "no apply record explains it"),)
        if status is DriftStatus.DRIFTED
        else (),
        baseline="audit log, applied at 2026-11-30T10:00:00Z",
        reasons=("no instance pgm in region cn-hangzhou",) if status is DriftStatus.MISSING else (),
        error="DescribeDBInstanceSSL failed: Forbidden.RAM: denied" if status is DriftStatus.ERROR else None,
        spec_location="specs/a.yaml:3 (instances[0])",
    )


def report(statuses: list[DriftStatus], *, expiring: bool = True, description: str | None = None) -> DriftReport:
    return DriftReport(
        instances=tuple(instance(n, s, description=description) for n, s in enumerate(statuses)),
        expiry=(
            ExpiryEntry(
                "pgm-0000", "cn-hangzhou", CertificateKind.SERVER_CLOUD, "CN=a", "AB:CD", NOW, 12, expiring, expiring
            ),
            ExpiryEntry("pgm-0001", "cn-hangzhou", CertificateKind.CRL, "CN=ca", None, NOW, 200, False),
        ),
        generated_at=NOW,
        target={"description": "emulator at http://127.0.0.1:1"},
        spec_paths=("specs",),
        unmanaged=(UnmanagedInstance("pgm-free", "cn-hangzhou", False, status="Running"),),
        coverage=Coverage(("cn-hangzhou",), len(statuses), len(statuses) + 1),
        baseline="audit log x: 2 applied",
        notes=("ignore rule s/.rdsssl-ignore.yaml:5 expired on 2026-11-30",),
    )


ALL = list(DriftStatus)


def test_json_is_valid_against_the_committed_schema_and_round_trips() -> None:
    built = report(ALL)
    document = json.loads(render_drift_json(built))
    jsonschema.Draft202012Validator.check_schema(drift_schema())
    jsonschema.validate(document, drift_schema())
    assert report_from_json(document) == built
    assert document["exit_code"] == 1
    broken = {**document, "instances": [{**document["instances"][0], "status": "weird"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, drift_schema())


def test_text_lists_worst_first_with_fields_causes_expiry_and_coverage() -> None:
    text = click.unstyle(render_drift_text(report(ALL)))  # click drops styles off a terminal
    order = [text.index(f"pgm-{n:04d} (cn-hangzhou)") for n in (5, 3, 1, 2, 4, 0)]  # error, missing, drifted...
    assert order == sorted(order)
    assert "ssl.enabled        expected true, live false" in text
    assert (
        "(ignored) ssl.client_ca.acl  expected verify-ca, live prefer  [owned by the DBA team; s/.rdsssl-ignore.yaml:2]"
        in text
    )
    assert "cause: changed outside the tool (based on: no apply record explains it)" in text
    assert "IN RENEWAL WINDOW, RequireUpdate" in text
    assert "Coverage: 6 of 7 PostgreSQL instances managed (86%)" in text
    assert text.endswith(
        "Drift: 1 drifted, 1 pending, 1 in sync, 1 missing, 1 ineligible, 1 error, 1 certificate in the renewal "
        "window, 1 unmanaged, 2 ignored differences.\n"
    )


def test_text_and_markdown_escape_what_comes_from_outside() -> None:
    built = report([DriftStatus.DRIFTED], description=EVIL)
    text = render_drift_text(built)
    assert "\x1b[2A" not in text  # the styles are click's own; the description's sequence is shown, not sent
    assert "\\x1b[2A\\n> [!NOTE]" in text
    markdown = render_drift_markdown(built)
    assert "\x1b" not in markdown
    assert "\n> [!NOTE]" not in markdown
    assert markdown.count("</details>") == 1


def banners(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("> [!")]


def test_markdown_banners_caution_for_errors_warning_for_drift_note_when_clean() -> None:
    assert banners(render_drift_markdown(report(ALL))) == ["> [!CAUTION]", "> [!WARNING]"]
    assert banners(render_drift_markdown(report([DriftStatus.PENDING], expiring=False))) == ["> [!WARNING]"]
    assert banners(render_drift_markdown(report([DriftStatus.IN_SYNC], expiring=True))) == ["> [!WARNING]"]
    clean = render_drift_markdown(report([DriftStatus.IN_SYNC, DriftStatus.INELIGIBLE], expiring=False))
    assert banners(clean) == ["> [!NOTE]"]
    assert "No drift" in clean


@pytest.mark.parametrize("count", [500, 3000])
def test_markdown_fits_the_budget_and_parses_into_its_tables(count: int) -> None:
    statuses = [ALL[n % len(ALL)] for n in range(count)]
    markdown = render_drift_markdown(report(statuses))
    assert len(markdown.encode()) <= 65_536
    assert "> [!CAUTION]" in markdown
    assert "**Drift:**" in markdown.splitlines()[-1]
    assert "this comment shows" in markdown
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    assert sum(1 for t in tokens if t.type == "table_open") >= 3  # summary, instances, expiry


def test_small_markdown_shows_every_detail() -> None:
    markdown = render_drift_markdown(report(ALL))
    assert "this comment shows" not in markdown
    assert markdown.count("<details>") == 5  # every instance but the clean in-sync one
    assert (
        "| `ssl.client_ca.acl` | verify-ca | prefer | yes: owned by the DBA team (s/.rdsssl-ignore.yaml:2) |"
        in markdown
    )

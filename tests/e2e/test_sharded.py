"""The sharded example: three regions, three plan artifacts, one merged summary equal to one plan of the fleet.

Run on a copy of examples/sharded (its _target.yaml starts the embedded emulator with the three-region
fleet beside it), with the commands its workflow runs (issue 11, acceptance 7).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import CliResult

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "sharded"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    copy = tmp_path / "sharded"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".state"))
    return copy


def workflow_regions() -> list[str]:
    workflow = yaml.safe_load((EXAMPLE / "github-actions.yml").read_text())
    regions: list[str] = workflow["jobs"]["plan"]["strategy"]["matrix"]["region"]
    return regions


def view(document: dict[str, Any]) -> dict[str, Any]:
    """What a reader of the summary compares: instances with status, restart and changes; the counts."""
    return {
        "summary": document["summary"],
        "instances": {
            i["id"]: {
                "region": i["region"],
                "status": i["status"],
                "restart": i["restart"],
                "estimated_seconds": i["restart_detail"]["estimated_seconds"],
                "changes": [(c["field"], c["before"], c["after"]) for c in i["changes"]],
                "request": i["request"],
            }
            for i in document["instances"]
        },
    }


def test_three_shards_merge_into_the_plan_of_the_whole_fleet(cli: Cli, example: Path) -> None:
    regions = workflow_regions()
    spec_regions = {yaml.safe_load(p.read_text())["defaults"]["region"] for p in (example / "specs").glob("[!_]*.yaml")}
    assert sorted(regions) == sorted(spec_regions)
    assert len(regions) == 3
    artifacts = []
    for region in regions:
        out = example / f"plan-{region}.json"
        shard = cli("plan", "specs", "--region", region, "--out", str(out), "--detailed-exitcode", cwd=example)
        assert shard.code in (0, 2), shard.text
        saved = json.loads(out.read_text())
        assert {i["region"] for i in saved["instances"]} == {region}
        artifacts.append(str(out))
    merged = cli("merge", *artifacts, "--format", "json", "--detailed-exitcode", cwd=example)
    whole = cli("plan", "specs", "--format", "json", "--detailed-exitcode", cwd=example)
    assert merged.code == whole.code == 2, merged.text + whole.text
    merged_doc, whole_doc = json.loads(merged.out), json.loads(whole.out)
    assert view(merged_doc) == view(whole_doc)
    assert merged_doc["summary"] == {
        "change": 3,
        "in_sync": 3,
        "ineligible": 1,
        "not_found": 0,
        "error": 0,
        # One of the four restarts is under policy "never": deferred, not counted as a restart that runs now.
        "restarts": 2,
        "deferred": 1,
        "estimated_restart_seconds": 360,
    }
    assert [s["instances"] for s in merged_doc["sources"]] == [3, 2, 2]
    # The same target, although each shard's embedded emulator had its own port.
    assert merged_doc["target"]["kind"] == whole_doc["target"]["kind"]

    # The text and Markdown summaries say what one plan says.
    text = cli("merge", *artifacts, cwd=example)
    assert text.code == 0
    assert (
        text.out.splitlines()[-1]
        == "Plan: 3 to change, 2 restarts now (~3 min each), 1 deferred, 3 in sync, 1 ineligible."
    )
    markdown = cli("merge", *artifacts, "--format", "markdown", cwd=example)
    single_markdown = cli("plan", "specs", "--format", "markdown", cwd=example)
    assert markdown.out.splitlines()[:4] == single_markdown.out.splitlines()[:4]

    # A merged plan merges again (a summary of summaries), and plan --format json documents merge too.
    (example / "merged.json").write_text(merged.out)
    again = cli("merge", "merged.json", "--format", "json", cwd=example)
    assert view(json.loads(again.out)) == view(whole_doc)
    documents = []
    for region in regions:
        shard = cli("plan", "specs", "--region", region, "--format", "json", cwd=example)
        (example / f"doc-{region}.json").write_text(shard.out)
        documents.append(f"doc-{region}.json")
    from_documents = cli("merge", *documents, "--format", "json", cwd=example)
    assert view(json.loads(from_documents.out)) == view(whole_doc)
    # Without the specs' 'desired' section, pgm-hz-legacy (ineligible, SSL declared off) counts strictly.
    assert "pgm-hz-legacy: ineligible, and their plan documents do not say" in from_documents.err

    # Each region's artifact is applied on its own: apply PLANFILE selects what the plan selected.
    applied = cli("apply", artifacts[-1], "--poll-interval", "0.2", cwd=example)
    assert applied.code == 3, applied.text  # pgm-sg-events has restart: never
    assert "pgm-hz" not in applied.out


def test_an_identical_repeat_is_kept_once(cli: Cli, example: Path) -> None:
    assert cli("plan", "specs", "--region", "cn-hangzhou", "--out", "a.json", cwd=example).code == 0
    same = cli("merge", "a.json", "a.json", "--format", "json", "--detailed-exitcode", cwd=example)
    assert same.code == 2, same.text
    assert [i["id"] for i in json.loads(same.out)["instances"]] == ["pgm-hz-orders", "pgm-hz-payments", "pgm-hz-legacy"]


def test_an_overlap_with_different_content_is_named(cli: Cli, example: Path) -> None:
    hangzhou = cli("plan", "specs", "--region", "cn-hangzhou", "--format", "json", cwd=example)
    (example / "a.json").write_text(hangzhou.out)
    (example / "specs" / "cn-hangzhou.yaml").write_text(
        (example / "specs" / "cn-hangzhou.yaml")
        .read_text()
        .replace("policy: {restart: allowed}", "policy: {restart: never}")
    )
    later = cli("plan", "specs", "--select", "id=pgm-hz-orders", "--format", "json", cwd=example)
    (example / "b.json").write_text(later.out)
    refused = cli("merge", "a.json", "b.json", cwd=example)
    assert refused.code == 1
    assert "pgm-hz-orders: in a.json and b.json with different content" in refused.err


def test_plans_and_drift_reports_do_not_mix(cli: Cli, example: Path) -> None:
    plan = cli("plan", "specs", "--region", "cn-shanghai", "--format", "json", cwd=example)
    (example / "plan.json").write_text(plan.out)
    drift = {
        "format_version": "1.0",
        "kind": "drift",
        "generated_at": "2026-12-01T00:00:00Z",
        "target": {},
        "instances": [],
        "expiry": [],
    }
    (example / "drift.json").write_text(json.dumps(drift))
    refused = cli("merge", "plan.json", "drift.json", cwd=example)
    assert refused.code == 1
    assert "cannot merge plans with drift reports" in refused.err
    assert "(plan.json is a plan; drift.json is a drift report)" in refused.err


def test_three_drift_shards_merge_into_the_drift_report_of_the_whole_fleet(cli: Cli, example: Path) -> None:
    """The nightly matrix: drift per region (--region, as plan), merged, says what one drift run says."""
    regions = workflow_regions()
    reports = []
    for region in regions:
        out = f"drift-{region}.json"
        shard = cli("drift", "specs", "--region", region, "--format", "json", cwd=example)
        assert shard.code in (0, 2), shard.text
        document = json.loads(shard.out)
        assert {i["region"] for i in document["instances"]} == {region}
        (example / out).write_text(shard.out)
        reports.append(out)
    merged = cli("merge", *reports, "--format", "json", cwd=example)
    whole = cli("drift", "specs", "--format", "json", cwd=example)
    assert merged.code == whole.code, merged.text + whole.text
    merged_doc, whole_doc = json.loads(merged.out), json.loads(whole.out)

    def drift_view(document: dict[str, Any]) -> dict[str, Any]:
        return {
            "summary": document["summary"],
            "exit_code": document["exit_code"],
            "instances": {i["id"]: (i["region"], i["status"], i["fields"], i["causes"]) for i in document["instances"]},
            "expiry": sorted(json.dumps(e, sort_keys=True) for e in document["expiry"]),
        }

    assert drift_view(merged_doc) == drift_view(whole_doc)
    assert len(merged_doc["instances"]) == len(whole_doc["instances"]) > 3
    text = cli("merge", *reports, cwd=example)
    assert text.code == whole.code
    assert text.out.splitlines()[-1] == cli("drift", "specs", cwd=example).out.splitlines()[-1]

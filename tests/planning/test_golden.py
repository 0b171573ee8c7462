"""Golden plan cases (see harness.py for the format): each case file is one test.

Beyond the cases themselves, this pins that the restart table is covered: every row of
``planning.rules.RULES`` appears, as an expected change stating its own verdict, on an instance of
every certificate source the row applies to. A row added without a case fails here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from rdsssl_reconcile.planning.model import FieldChange, RestartAssessment
from rdsssl_reconcile.planning.planner import make_plan, plan_instance
from rdsssl_reconcile.planning.rules import RESTART_SECONDS, RULES, Restart, rule
from tests.planning.harness import CASES, estimate_mismatches, mismatches, run_case, unpinned_changes

CASE_FILES = sorted(CASES.glob("*.yaml"))

#: The certificate sources each row of the restart table can apply to. For ``disable-ssl`` the spec
#: has no source, so the instance's source is the live one (an issued certificate is live ``custom``).
ROW_SOURCES: dict[str, set[str]] = {
    "enable-ssl-cloud-cert": {"aliyun"},
    "change-cloud-cert-endpoint": {"aliyun"},
    "disable-ssl": {"aliyun", "custom"},
    "configure-custom-cert": {"custom", "issuer"},
    "modify-custom-cert": {"custom", "issuer"},
    "switch-to-cloud-cert": {"aliyun"},
    "renew-cloud-cert": {"aliyun"},
    "enable-client-ca": {"aliyun", "custom", "issuer"},
    "change-client-ca": {"aliyun", "custom", "issuer"},
    "change-crl": {"aliyun", "custom", "issuer"},
    "disable-client-ca": {"aliyun", "custom", "issuer"},
    "change-acl": {"aliyun", "custom", "issuer"},
    "change-replication-acl": {"aliyun", "custom", "issuer"},
}

#: No planner path produces it: it is the fallback for a rule id the table does not know.
FALLBACK_ROW = "unclassified"


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_plan(case_file: Path, tmp_path: Path) -> None:
    run = run_case(case_file, tmp_path)
    problems = mismatches(run)
    assert not problems, f"{case_file.name}: {run.case.get('description', '')}\n" + "\n".join(problems)


def test_there_are_golden_cases() -> None:
    assert len(CASE_FILES) >= 15


def _source(spec_instance: dict[str, Any], live: dict[str, Any]) -> str:
    ssl = spec_instance.get("ssl", {})
    if ssl.get("enabled") and ssl.get("certificate"):
        return str(ssl["certificate"]["source"])
    return str(live.get("ssl", {}).get("CAType", "aliyun"))


@cache
def covered_rows() -> frozenset[tuple[str, str]]:
    """(rule id, certificate source) of every expected change of every case."""
    covered: set[tuple[str, str]] = set()
    for path in CASE_FILES:
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
        specs = {i["id"]: i for i in case["spec"]["instances"]}
        for instance_id, expected in case["expected"].items():
            source = _source(specs[instance_id], (case.get("live") or {}).get(instance_id, {}))
            covered.update((change["rule"], source) for change in expected.get("changes") or [])
    return frozenset(covered)


def test_every_row_of_the_restart_table_is_named_here() -> None:
    assert set(ROW_SOURCES) | {FALLBACK_ROW} == {r.id for r in RULES}


@pytest.mark.parametrize(
    ("rule_id", "source"),
    sorted((r, s) for r, sources in ROW_SOURCES.items() for s in sources),
)
def test_every_row_has_a_golden_case_per_source(rule_id: str, source: str) -> None:
    assert (rule_id, source) in covered_rows(), f"no golden case expects a {rule_id} change on a {source} instance"


def test_a_change_no_row_describes_is_unknown_and_counted_as_a_restart() -> None:
    change = FieldChange("ssl.something_new", "a", "b", "no-such-rule")
    assert rule("no-such-rule").id == FALLBACK_ROW
    assert change.restart is Restart.UNKNOWN
    assert change.to_json()["restart"] == "unknown"
    assessment = RestartAssessment.of((change,))
    assert assessment.restart is Restart.UNKNOWN
    assert assessment.estimated_seconds == RESTART_SECONDS
    assert assessment.triggers == ("ssl.something_new",)


def test_a_case_that_leaves_a_verdict_or_the_estimate_unstated_is_refused() -> None:
    unpinned = unpinned_changes("pgm-a", [{"field": "ssl.client_ca.acl", "rule": "change-acl"}, {"field": "x"}])
    assert unpinned == [
        "pgm-a: expected changes[0] does not state restart",
        "pgm-a: expected changes[1] does not state rule, restart",
    ]
    assert unpinned_changes("pgm-a", [{"field": "f", "rule": "change-acl", "restart": "maybe"}])
    actual = {"restart_detail": {"estimated_seconds": 180}}
    assert estimate_mismatches("pgm-a", {"status": "change"}, actual) == [
        "pgm-a: a case expecting a change must state estimated_seconds (the plan says 180)"
    ]
    assert estimate_mismatches("pgm-a", {"status": "change", "estimated_seconds": 0}, actual)
    assert estimate_mismatches("pgm-a", {"status": "change", "estimated_seconds": 180}, actual) == []
    assert estimate_mismatches("pgm-a", {"status": "in_sync"}, actual) == []


#: The Alibaba Cloud documents a restart row may cite, by title.
DOCUMENT_TITLES = (
    "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance",
    "Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance",
    "Configure a client CA certificate for an ApsaraDB RDS for PostgreSQL instance",
    "Forcefully enable SSL connections",
)


@pytest.mark.parametrize("row", [r for r in RULES if r.id != FALLBACK_ROW], ids=lambda r: r.id)
def test_every_row_cites_a_document_by_title_and_states_its_estimate(row: Any) -> None:
    assert any(f'"{title}"' in row.source for title in DOCUMENT_TITLES), row.source
    assert "[" not in row.source
    assert "§" not in row.source
    assert row.to_json()["estimated_seconds"] == row.estimated_seconds
    minutes = {180: "3 minutes", 60: "1 minute"}[row.estimated_seconds]
    assert minutes in row.source, f"{row.id}: the source does not state the estimate ({minutes})"


def test_acl_rows_are_one_minute_and_every_other_documented_row_three() -> None:
    estimates = {r.id: r.estimated_seconds for r in RULES}
    assert estimates.pop("change-acl") == estimates.pop("change-replication-acl") == 60
    assert set(estimates.values()) == {RESTART_SECONDS} == {180}


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_instances_planned_as_their_reads_complete_give_the_same_plan(case_file: Path, tmp_path: Path) -> None:
    """plan runs plan_instance in the read workers and hands the results to make_plan: nothing may change."""
    run = run_case(case_file, tmp_path)
    planned = {
        item.id: plan_instance(item, run.live[item.id], now=run.now) for item in run.desired if item.id in run.live
    }
    again = make_plan(
        run.desired, run.live, now=run.now, target={"kind": "test", "description": "golden case"}, planned=planned
    )
    assert planned, "the case plans no read instance"
    assert again == run.plan
    assert all(again.instances[i] is planned[d.id] for i, d in enumerate(run.desired) if d.id in planned)

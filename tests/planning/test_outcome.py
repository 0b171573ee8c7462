"""The exit-code rule (planning/outcome.py): one verdict per declared instance, one table of codes.

Pure: plans are built from planning model values. The README's "Exit codes" table must be this table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.live.model import ReadError
from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, PlanStatus, RestartAssessment
from rdsssl_reconcile.planning.outcome import (
    EXIT_TABLE,
    Verdict,
    apply_exit_code,
    assess_instance,
    declared_ssl_of_saved,
    plan_exit_code,
    worst,
)

REPO = Path(__file__).resolve().parents[2]
FACTS = {
    "engine": "PostgreSQL",
    "engine_version": "15.0",
    "storage_type": "cloud_essd",
    "pay_type": "Postpaid",
    "category": "HighAvailability",
    "instance_type": "Primary",
    "lock_mode": "Unlock",
}


def instance(instance_id: str, status: PlanStatus, reasons: tuple[str, ...] = (), **facts: Any) -> InstancePlan:
    """An instance plan as the planner makes it, with the eligibility facts it carries in ``live``."""
    changes = (
        (FieldChange("ssl.enabled", "false", "true", "enable-ssl-cloud-cert"),) if status is PlanStatus.CHANGE else ()
    )
    live = None if status is PlanStatus.NOT_FOUND else {"outcome": "found", "facts": FACTS | facts, "ssl": None}
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=status,
        reasons=reasons,
        changes=changes,
        restart=RestartAssessment.of(changes),
        live=live,
        error=ReadError("DescribeDBInstanceSSL", "ServiceUnavailable", "try later")
        if status is PlanStatus.ERROR
        else None,
    )


#: (name, the instance, its spec declares SSL on, expected verdict)
CASES = [
    ("in sync", instance("a", PlanStatus.IN_SYNC, ("SSL is off, as declared",)), False, Verdict.IN_SYNC),
    ("pending", instance("a", PlanStatus.CHANGE), True, Verdict.PENDING),
    (
        "not running",
        instance("a", PlanStatus.INELIGIBLE, ("status is Restarting, not Running",)),
        True,
        Verdict.NOT_NOW,
    ),
    (
        "locked",
        instance("a", PlanStatus.INELIGIBLE, ("instance is locked",), lock_mode="LockByExpiration"),
        True,
        Verdict.NOT_NOW,
    ),
    ("not found", instance("a", PlanStatus.NOT_FOUND, ("no instance a",)), True, Verdict.ERROR),
    ("read error", instance("a", PlanStatus.ERROR, ("DescribeDBInstanceSSL failed",)), True, Verdict.ERROR),
    (
        "serverless, SSL on",
        instance("a", PlanStatus.INELIGIBLE, ("Serverless",), pay_type="Serverless"),
        True,
        Verdict.ERROR,
    ),
    (
        "local disks, SSL on",
        instance("a", PlanStatus.INELIGIBLE, ("local",), storage_type="local_ssd"),
        True,
        Verdict.ERROR,
    ),
    (
        "PostgreSQL 9.6, SSL on",
        instance("a", PlanStatus.INELIGIBLE, ("9.6",), engine_version="9.6"),
        True,
        Verdict.ERROR,
    ),
    ("MySQL, SSL on", instance("a", PlanStatus.INELIGIBLE, ("MySQL",), engine="MySQL"), True, Verdict.ERROR),
    (
        "serverless, SSL off",
        instance("a", PlanStatus.INELIGIBLE, ("Serverless",), pay_type="Serverless"),
        False,
        Verdict.IN_SYNC,
    ),
    (
        "serverless and stopped, SSL on",
        instance("a", PlanStatus.INELIGIBLE, ("Serverless", "Stopped"), pay_type="Serverless"),
        True,
        Verdict.ERROR,
    ),
    ("stopped, SSL off", instance("a", PlanStatus.INELIGIBLE, ("status is Stopped",)), False, Verdict.NOT_NOW),
]


@pytest.mark.parametrize(("item", "declares_ssl", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_verdicts(item: InstancePlan, declares_ssl: bool, verdict: Verdict) -> None:
    assessment = assess_instance(item, declares_ssl=declares_ssl)
    assert assessment.verdict is verdict
    if verdict is Verdict.ERROR and item.status is PlanStatus.INELIGIBLE:
        assert assessment.why.startswith("can never satisfy its spec: ")


def test_an_ineligible_instance_without_facts_is_not_called_in_sync() -> None:
    bare = InstancePlan(id="a", region="r", description=None, status=PlanStatus.INELIGIBLE, reasons=("?",))
    assert assess_instance(bare, declares_ssl=False).verdict is Verdict.NOT_NOW


EXPECTED = {  # verdict -> (plan, plan --detailed-exitcode, apply when done, apply when left over)
    Verdict.IN_SYNC: (0, 0, 0, 0),
    Verdict.PENDING: (0, 2, 0, 3),
    Verdict.NOT_NOW: (0, 2, 3, 3),
    Verdict.ERROR: (1, 1, 1, 1),
}


@pytest.mark.parametrize("verdict", list(Verdict), ids=[v.value for v in Verdict])
def test_exit_codes_of_one_instance(verdict: Verdict) -> None:
    item = next(c[1] for c in CASES if c[3] is verdict)
    declares = next(c[2] for c in CASES if c[3] is verdict)
    assessed = [assess_instance(item, declares_ssl=declares)]
    codes = (
        plan_exit_code(assessed, detailed=False),
        plan_exit_code(assessed, detailed=True),
        apply_exit_code(assessed, done={item.id}),
        apply_exit_code(assessed, done=()),
    )
    assert codes == EXPECTED[verdict]


def test_the_worst_instance_decides() -> None:
    assert worst([0, 2, 0]) == 2
    assert worst([2, 3]) == 3
    assert worst([3, 1, 2]) == 1  # an error outweighs an unfinished apply
    assert worst([]) == 0
    fleet = [
        assess_instance(instance("ok", PlanStatus.IN_SYNC), declares_ssl=True),
        assess_instance(instance("p", PlanStatus.CHANGE), declares_ssl=True),
        assess_instance(instance("gone", PlanStatus.NOT_FOUND), declares_ssl=True),
    ]
    assert plan_exit_code(fleet, detailed=True) == 1
    assert plan_exit_code(fleet[:2], detailed=True) == 2
    assert plan_exit_code(fleet[:2], detailed=False) == 0
    assert apply_exit_code(fleet[:2], done={"p"}) == 0
    assert apply_exit_code(fleet, done={"p"}) == 1


def _readme_exit_table() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text.split("### Exit codes", 1)[1].splitlines()
    start = next(i for i, line in enumerate(after) if line.startswith("|"))
    end = next(i for i in range(start, len(after)) if not after[i].startswith("|"))
    rows = after[start + 2 : end]  # the first table under the heading, without its header
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_the_readme_table_is_this_table() -> None:
    rows = _readme_exit_table()
    assert [r[0] for r in rows] == [f"`{rule.verdict.value}`" for rule in EXIT_TABLE]
    for row, rule in zip(rows, EXIT_TABLE, strict=True):
        assert row[1] == rule.when
        assert row[2:6] == [str(rule.plan), str(rule.plan_detailed), str(rule.apply_done), str(rule.apply_left)]


def test_what_a_saved_plan_declares() -> None:
    desired = {"a": {"ssl": {"enabled": False}}, "b": {"ssl": {"enabled": True}}, "c": {}, "d": None}
    assert declared_ssl_of_saved(desired) == {
        "a": False,
        "b": True,
        "c": True,
        "d": True,
    }  # unknown: the strict reading

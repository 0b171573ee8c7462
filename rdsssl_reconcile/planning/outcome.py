"""What a plan means for a CI gate: one verdict per declared instance, and the exit codes they give.

Why a module of its own: ``plan --detailed-exitcode``, ``apply`` and the Markdown banners must agree on
what counts as bad news, and a typo'd instance id or an instance that can never carry SSL must not pass a
gate as "nothing to do". So every declared instance gets one :class:`Verdict`, and :data:`EXIT_TABLE` maps
verdicts to exit codes, in one table (the README's "Exit codes" table is this one; a test checks that they
agree). Pure: a function of the plan and of what each spec declares, no I/O.

The plan's ``ineligible`` status covers two different things, told apart with
:func:`~rdsssl_reconcile.planning.eligibility.permanent_blockers` on the facts the plan carries:

- *permanent* (another engine, PostgreSQL < 10, local disks, Serverless, an unmanaged instance type): the
  instance can never satisfy a spec that declares SSL on, which is an error; a spec that declares SSL off
  is satisfied (such an instance carries no SSL), so it is in sync;
- *temporary* (not Running, locked): nothing can be planned now, so nothing is proven in sync; like a
  pending change, it is something left to do (plan again when it is Running).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from rdsssl_reconcile.live.model import InstanceFacts
from rdsssl_reconcile.planning.eligibility import permanent_blockers
from rdsssl_reconcile.planning.model import InstancePlan, Plan, PlanStatus
from rdsssl_reconcile.spec.model import DesiredInstance


class Verdict(Enum):
    """A declared instance as a gate sees it, from best to worst."""

    IN_SYNC = "in_sync"
    PENDING = "pending"
    NOT_NOW = "not_now"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ExitRule:
    """One row of the exit-code table: when it applies and the code each command gives for it."""

    verdict: Verdict
    when: str
    plan: int
    plan_detailed: int
    #: ``apply``: the code when the instance ends in the desired state, and when it does not.
    apply_done: int
    apply_left: int


#: The one table (README "Exit codes"). A run exits with the worst code of its instances, in the order
#: of :data:`SEVERITY`.
EXIT_TABLE: tuple[ExitRule, ...] = (
    ExitRule(
        Verdict.IN_SYNC,
        "in sync; or SSL declared off on an instance that cannot carry SSL",
        plan=0,
        plan_detailed=0,
        apply_done=0,
        apply_left=0,
    ),
    ExitRule(
        Verdict.PENDING,
        "changes pending",
        plan=0,
        plan_detailed=2,
        apply_done=0,
        apply_left=3,
    ),
    ExitRule(
        Verdict.NOT_NOW,
        "cannot be planned now: not Running, or locked",
        plan=0,
        plan_detailed=2,
        apply_done=3,
        apply_left=3,
    ),
    ExitRule(
        Verdict.ERROR,
        "does not exist, cannot be read, the plan found an error in it (e.g. a declared endpoint it does not "
        "have), or can never satisfy its spec (SSL declared on another engine, PostgreSQL < 10, local disks, "
        "Serverless)",
        plan=1,
        plan_detailed=1,
        apply_done=1,
        apply_left=1,
    ),
)

#: Exit codes from least to most severe: an error outweighs an unfinished apply, which outweighs changes.
SEVERITY: tuple[int, ...] = (0, 2, 3, 1)

_RULES = {row.verdict: row for row in EXIT_TABLE}


@dataclass(frozen=True, slots=True)
class Assessment:
    """An instance's verdict and, for anything but in sync, why (one line, for banners and messages)."""

    instance: InstancePlan
    verdict: Verdict
    why: str


def declared_ssl(desired: Iterable[DesiredInstance]) -> dict[str, bool]:
    """Instance id -> whether its spec declares SSL on (the one spec fact a verdict needs)."""
    return {item.id: item.ssl.enabled for item in desired}


def declared_ssl_of_saved(desired: Mapping[str, Any]) -> dict[str, bool]:
    """The same, from a saved plan's ``desired`` section (``show PLANFILE`` has no specs to read)."""
    declared = {}
    for instance_id, item in desired.items():
        ssl = item.get("ssl") if isinstance(item, dict) else None
        # Only an explicit "enabled: false" counts as off: anything else is the strict reading.
        declared[instance_id] = not (isinstance(ssl, dict) and ssl.get("enabled") is False)
    return declared


def _facts(item: InstancePlan) -> InstanceFacts | None:
    """The eligibility facts the plan carries (``live.facts``), or None when it carries none."""
    facts = (item.live or {}).get("facts")
    if not isinstance(facts, dict):
        return None
    try:
        return InstanceFacts(
            id=item.id,
            region=item.region,
            engine=str(facts["engine"]),
            engine_version=str(facts["engine_version"]),
            storage_type=str(facts["storage_type"]),
            pay_type=str(facts["pay_type"]),
            category=str(facts["category"]),
            instance_type=str(facts["instance_type"]),
            status="",
            lock_mode=str(facts.get("lock_mode") or ""),
            description="",
            connection_string="",
        )
    except KeyError:
        return None


def assess_instance(item: InstancePlan, *, declares_ssl: bool = True) -> Assessment:
    """The verdict for one planned instance (``declares_ssl``: its spec's ``ssl.enabled``)."""
    match item.status:
        case PlanStatus.IN_SYNC:
            return Assessment(item, Verdict.IN_SYNC, "")
        case PlanStatus.CHANGE:
            return Assessment(item, Verdict.PENDING, "changes pending")
        case PlanStatus.NOT_FOUND:
            return Assessment(item, Verdict.ERROR, "not found")
        case PlanStatus.ERROR:
            return Assessment(item, Verdict.ERROR, "; ".join(item.reasons) or "could not be read")
    facts = _facts(item)
    permanent = permanent_blockers(facts) if facts is not None else ()
    if permanent:
        if not declares_ssl:
            return Assessment(item, Verdict.IN_SYNC, "")
        return Assessment(item, Verdict.ERROR, f"can never satisfy its spec: {'; '.join(permanent)}")
    # Not Running or locked (or, from a plan that carries no facts, a reason we cannot classify): it may
    # be plannable later, and it is not proven in sync now.
    return Assessment(item, Verdict.NOT_NOW, "; ".join(item.reasons) or "cannot be planned now")


def assess(plan: Plan, declared: Mapping[str, bool]) -> tuple[Assessment, ...]:
    """Every instance's verdict, in plan order; an id missing from ``declared`` counts as SSL on (strict)."""
    return tuple(assess_instance(i, declares_ssl=declared.get(i.id, True)) for i in plan.instances)


def worst(codes: Iterable[int]) -> int:
    """The most severe of some exit codes (0 when there are none)."""
    return max(codes, key=SEVERITY.index, default=0)


def plan_exit_code(assessments: Sequence[Assessment], *, detailed: bool) -> int:
    """``plan``'s exit code: 1 on any error; with ``--detailed-exitcode`` 2 when anything is left to do."""
    rules = [_RULES[a.verdict] for a in assessments]
    return worst(r.plan_detailed if detailed else r.plan for r in rules)


def apply_exit_code(assessments: Sequence[Assessment], *, done: Collection[str]) -> int:
    """``apply``'s exit code (interruption aside): ``done`` are the ids that ended in the desired state."""
    rules = [(_RULES[a.verdict], a.instance.id in done) for a in assessments]
    return worst(rule.apply_done if finished else rule.apply_left for rule, finished in rules)

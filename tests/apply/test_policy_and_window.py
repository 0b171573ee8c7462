"""Maintenance windows and the restart policy decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rdsssl_reconcile.apply.policy import decide
from rdsssl_reconcile.planning.model import FieldChange, InstancePlan, PlanStatus, RestartAssessment
from rdsssl_reconcile.spec.model import RestartMode, RestartPolicy
from rdsssl_reconcile.spec.window import MaintenanceWindow


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [
        ("02:00-04:00", "2026-11-27 03:00", True),
        ("02:00-04:00", "2026-11-27 04:00", False),
        ("sat 02:00-04:00", "2026-11-28 02:00", True),  # a Saturday
        ("sat 02:00-04:00", "2026-11-27 02:30", False),  # a Friday
        ("mon-fri 22:00-02:00", "2026-11-28 01:00", True),  # Friday's window, after midnight
        ("mon-fri 22:00-02:00", "2026-11-29 01:00", False),  # Saturday night: no window started
        ("sat,sun 23:30-00:30", "2026-11-30 00:10", True),  # Sunday's window into Monday
        ("02:00Z-03:00Z", "2026-11-27 02:59", True),
    ],
)
def test_window_contains(window: str, moment: str, inside: bool) -> None:
    assert MaintenanceWindow.parse(window).contains(at(moment)) is inside


def test_next_opening_and_close() -> None:
    window = MaintenanceWindow.parse("sat,sun 02:00-04:00")
    assert window.next_opening(at("2026-11-27 10:00")) == at("2026-11-28 02:00")
    assert window.next_opening(at("2026-11-28 02:30")) == at("2026-11-29 02:00")
    assert window.closes_at(at("2026-11-28 02:30")) == at("2026-11-28 04:00")
    assert window.closes_at(at("2026-11-27 02:30")) is None


def restarting_item() -> InstancePlan:
    change = FieldChange("ssl.enabled", "false", "true", "enable-ssl-cloud-cert")
    return InstancePlan(
        id="pgm-a",
        region="r",
        description=None,
        status=PlanStatus.CHANGE,
        changes=(change,),
        restart=RestartAssessment.of((change,)),
    )


def test_policy_decisions() -> None:
    item = restarting_item()
    now = at("2026-11-27 10:00")
    assert decide(item, RestartPolicy(), now=now, allow_restart=frozenset()).allowed
    never = RestartPolicy(mode=RestartMode.NEVER)
    assert not decide(item, never, now=now, allow_restart=frozenset()).allowed
    assert decide(item, never, now=now, allow_restart=frozenset({"pgm-a"})).allowed
    window = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("10:00-10:02"))
    squeezed = decide(item, window, now=now, allow_restart=frozenset())
    assert not squeezed.allowed  # 2 minutes left, the restart takes ~3
    assert squeezed.next_window == at("2026-11-28 10:00")
    roomy = RestartPolicy(mode=RestartMode.WINDOW, window=MaintenanceWindow.parse("09:00-11:00"))
    assert decide(item, roomy, now=now, allow_restart=frozenset()).allowed

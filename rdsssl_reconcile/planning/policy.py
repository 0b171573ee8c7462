"""May this instance restart now? Pure: the plan item, its policy, the time and the overrides.

Why in planning (not in apply): the plan must say what apply will do, so the same function decides
for the plan (as of the plan's time, recorded per instance as ``action`` and ``deferral``) and for
apply right before each request (as of the moment of sending; the window may have closed meanwhile).

A change runs only when it does not restart the instance, or the policy allows the restart *now*:
``allowed`` always; ``window`` only inside the window (UTC) with room for the restart's estimate before
it closes; ``never`` only when ``--allow-restart ID`` names the instance. Anything else is deferred,
with the reason and, for windows, when the next one opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rdsssl_reconcile.planning.model import Action, Deferral, DeferralReason, InstancePlan
from rdsssl_reconcile.spec.model import RestartMode, RestartPolicy


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """``deferral`` is None exactly when the change may run now; ``why`` says why it may."""

    instance_id: str
    deferral: Deferral | None = None
    why: str = ""

    @property
    def allowed(self) -> bool:
        return self.deferral is None

    @property
    def action(self) -> Action:
        return Action.NOW if self.deferral is None else Action.DEFERRED

    @property
    def reason(self) -> str:
        return self.why if self.deferral is None else self.deferral.sentence(self.instance_id)

    @property
    def next_window(self) -> datetime | None:
        return self.deferral.next_opening if self.deferral else None


def decide(
    item: InstancePlan, policy: RestartPolicy, *, now: datetime, allow_restart: frozenset[str]
) -> PolicyDecision:
    if not item.restart.restart.counts_as_restart:
        return PolicyDecision(item.id, why="no restart")
    seconds = item.restart.estimated_seconds
    if policy.mode is RestartMode.ALLOWED:
        return PolicyDecision(item.id, why="policy restart: allowed")
    if policy.mode is RestartMode.NEVER:
        if item.id in allow_restart:
            return PolicyDecision(item.id, why="policy restart: never, overridden by --allow-restart")
        return PolicyDecision(
            item.id, Deferral(reason=DeferralReason.POLICY_NEVER, policy="never", estimated_seconds=seconds)
        )
    window = policy.window
    assert window is not None, "the schema requires a window for restart: window"
    closes = window.closes_at(now)
    if closes is not None and (closes - now).total_seconds() >= seconds:
        return PolicyDecision(item.id, why=f"inside maintenance window {window} (closes {closes:%Y-%m-%d %H:%M} UTC)")
    # Closed, or open but starting now would run the restart (its rule's estimate) past its end.
    return PolicyDecision(
        item.id,
        Deferral(
            reason=DeferralReason.WINDOW_CLOSED if closes is None else DeferralReason.WINDOW_TOO_SHORT,
            policy="window",
            estimated_seconds=seconds,
            window=window.text,
            closes_at=closes,
            next_opening=window.next_opening(now),
        ),
    )

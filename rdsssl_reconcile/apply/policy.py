"""May this instance restart now? Pure: the plan item, its policy, the time and the overrides.

A change runs only when the plan showed its restart and the policy allows it *now*: ``allowed``
always; ``window`` only inside the window (UTC); ``never`` only when ``--allow-restart ID`` names the
instance. Anything else is deferred with the reason and, for windows, when the next one opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rdsssl_reconcile.planning.model import InstancePlan
from rdsssl_reconcile.spec.model import RestartMode, RestartPolicy


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    allowed: bool
    reason: str
    next_window: datetime | None = None


def decide(
    item: InstancePlan, policy: RestartPolicy, *, now: datetime, allow_restart: frozenset[str]
) -> PolicyDecision:
    if not item.restart.restart.counts_as_restart:
        return PolicyDecision(allowed=True, reason="no restart")
    if policy.mode is RestartMode.ALLOWED:
        return PolicyDecision(allowed=True, reason="policy restart: allowed")
    if policy.mode is RestartMode.NEVER:
        if item.id in allow_restart:
            return PolicyDecision(allowed=True, reason="policy restart: never, overridden by --allow-restart")
        return PolicyDecision(
            allowed=False,
            reason=f"policy restart: never; the change restarts the instance (~{item.restart.estimated_seconds // 60} min). "
            f"Re-run with --allow-restart {item.id} to allow it",
        )
    window = policy.window
    assert window is not None, "the schema requires a window for restart: window"
    closes = window.closes_at(now)
    if closes is not None:
        if (closes - now).total_seconds() >= item.restart.estimated_seconds:
            return PolicyDecision(
                allowed=True, reason=f"inside maintenance window {window} (closes {closes:%Y-%m-%d %H:%M} UTC)"
            )
        # Starting now would run the restart (its rule's estimate) past the end of the window.
        opening = window.next_opening(now)
        return PolicyDecision(
            allowed=False,
            reason=f"maintenance window {window} closes at {closes:%H:%M} UTC, too soon for a "
            f"~{item.restart.estimated_seconds // 60} min restart; next opening {opening:%Y-%m-%d %H:%M} UTC",
            next_window=opening,
        )
    opening = window.next_opening(now)
    return PolicyDecision(
        allowed=False,
        reason=f"outside maintenance window {window}; next opening {opening:%Y-%m-%d %H:%M} UTC",
        next_window=opening,
    )

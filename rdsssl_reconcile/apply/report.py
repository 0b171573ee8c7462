"""The end-of-apply summary and the exit code it implies (documented in the README).

0: everything planned was applied (or found already applied by another run), or there was nothing to do
(``nothing_to_do``: in sync or ineligible when planned).
3: some instances were deferred, failed, did not converge, ended unknown or were not submitted (``not_submitted``:
interrupted before their turn, or every restart slot stayed held); the others may have been applied.
130: interrupted (set by the CLI). Refusals before anything runs are errors (1), raised earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome, Sent
from rdsssl_reconcile.apply.waiting import mmss
from rdsssl_reconcile.textsafe import visible

EXIT_OK = 0
EXIT_PARTIAL = 3
#: 2.0: the outcome ``skipped`` became ``nothing_to_do`` and ``not_submitted`` (summary keys too).
REPORT_FORMAT_VERSION = "2.0"


@dataclass(frozen=True, slots=True)
class ApplyReport:
    results: tuple[InstanceResult, ...]
    target: dict[str, Any]
    interrupted: bool = False

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def restart_seconds(self) -> float:
        return sum(r.restart_seconds for r in self.results)

    @property
    def restarts(self) -> int:
        """Modifies this run had accepted, or may have had accepted (ambiguous answer, never seen to start)."""
        return sum(1 for r in self.results if r.sent is not Sent.NOTHING)

    @property
    def unconfirmed(self) -> int:
        """Of :attr:`restarts`, those not confirmed: the request may still land, or may never have."""
        return sum(1 for r in self.results if r.sent is Sent.UNCONFIRMED)

    @property
    def exit_code(self) -> int:
        bad = (Outcome.DEFERRED, Outcome.FAILED, Outcome.NOT_CONVERGED, Outcome.UNKNOWN, Outcome.NOT_SUBMITTED)
        return EXIT_PARTIAL if any(r.outcome in bad for r in self.results) else EXIT_OK

    def sentence(self) -> str:
        parts = [f"{self.count(o)} {o.value.replace('_', ' ')}" for o in Outcome if self.count(o)]
        restarts = self.restarts
        unconfirmed = f" ({self.unconfirmed} unconfirmed: sent, but not seen to start)" if self.unconfirmed else ""
        parts.append(
            f"total restart time {mmss(self.restart_seconds)} over {restarts} "
            f"restart{'s' if restarts != 1 else ''}{unconfirmed}"
        )
        return ", ".join(parts)

    def render_text(self) -> str:
        lines = [f"Target: {visible(str(self.target.get('description')))}", ""]
        if not self.results:
            lines.append("Nothing to apply.")
            return "\n".join(lines) + "\n"
        ids = [visible(r.id) for r in self.results]  # escaped: a control character must not act
        width = max(len(i) for i in ids)
        lines.append(f"{'Instance'.ljust(width)}  {'Outcome':<15} {'Restart':>7} {'Time':>6}  Detail")
        for shown, r in zip(ids, self.results, strict=True):
            restart = mmss(r.restart_seconds) if r.restart_seconds else "-"
            lines.append(
                f"{shown.ljust(width)}  {r.outcome.value:<15} {restart:>7} {mmss(r.elapsed_seconds):>6}  {visible(r.detail)}"
            )
        lines.append("")
        if self.interrupted:
            lines.append("Interrupted: instances not submitted were left unchanged; run 'plan' to see what is left.")
        if self.unconfirmed:
            lines.append(
                f"{self.unconfirmed} change(s) were sent and answered ambiguously, and were not sent again: they may "
                "still be carried out. Run 'plan' again in a few minutes."
            )
        lines.append(f"Apply: {self.sentence()}.")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "target": self.target,
            "interrupted": self.interrupted,
            "summary": {o.value: self.count(o) for o in Outcome}
            | {
                "restarts": self.restarts,
                "unconfirmed_restarts": self.unconfirmed,
                "restart_seconds": round(self.restart_seconds, 1),
            },
            "instances": [r.to_json() for r in self.results],
            "exit_code": self.exit_code,
        }

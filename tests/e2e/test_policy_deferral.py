"""The plan applies policy (issue 10, acceptance 5): what plan, the prompt and apply say agree.

Policy ``never`` and a closed (or too short) maintenance window at the plan's ``--now``: every plan
format says "deferred" with the reason and the next opening, the summary counts restarts now and
deferred, the confirmation prompt names only the restarts that really happen, and apply's outcome is
``deferred``. With ``--allow-restart`` the plan says "now". A saved plan runs exactly its decisions.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]
FAST = ("--poll-interval", "0.05")
FRIDAY = "2026-11-27T10:00:00Z"  # outside "sat 02:00-04:00"
SATURDAY_EARLY = "2026-11-28T02:30:00Z"  # inside, with room for a ~3 min restart
SATURDAY_LATE = "2026-11-28T03:58:00Z"  # inside, but a ~3 min restart would overrun the close
WINDOW = '{restart: window, window: "sat 02:00-04:00"}'
NEVER_REASON = (
    "policy restart: never; the change restarts the instance (~3 min). Re-run with --allow-restart pgm-a to allow it"
)


class _Terminal(io.StringIO):
    """Standard input that says it is a terminal and holds the answer typed at the prompt."""

    def isatty(self) -> bool:
        return True


def modifies(emulator: RunningEmulator) -> list[str]:
    return [c["instance_id"] for c in emulator.admin.calls(action="ModifyDBInstanceSSL")]


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in document["instances"]}


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {i["id"]: i["outcome"] for i in report["instances"]}


def two_instances(cloud_env: RunningEmulator, spec_dir: Path) -> None:
    """pgm-a under policy never, pgm-b under the default (allowed): both enable SSL (~3 min)."""
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    spec = aliyun_spec("pgm-a", policy="{restart: never}") + aliyun_spec("pgm-b").removeprefix("instances:\n")
    write_spec(spec_dir, spec)


def test_policy_never_is_deferred_in_every_plan_format_the_prompt_and_apply(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_instances(cloud_env, spec_dir)

    text = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert text.code == 2, text.text
    assert "  ~ pgm-a (cn-hangzhou) deferred, not changed now: RESTART required (~3 min)" in text.out
    assert f"      deferred: {NEVER_REASON}" in text.out
    assert "  ~ pgm-b (cn-hangzhou) will be changed: RESTART required (~3 min)" in text.out
    assert "1 instance will restart: pgm-b\n" in text.out
    assert "1 instance deferred by policy, not changed by this apply: pgm-a\n" in text.out
    assert text.out.endswith("Plan: 2 to change, 1 restart now (~3 min), 1 deferred, 0 in sync.\n")

    document = json.loads(cli("plan", str(spec_dir), "--format", "json").out)
    assert document["allow_restart"] == []
    assert document["summary"]["restarts"] == 1
    assert document["summary"]["deferred"] == 1
    assert document["summary"]["estimated_restart_seconds"] == 180
    a, b = by_id(document)["pgm-a"], by_id(document)["pgm-b"]
    assert a["action"] == "deferred"
    assert a["deferral"] == {
        "reason": "policy_never",
        "policy": "never",
        "window": None,
        "closes_at": None,
        "next_opening": None,
        "estimated_seconds": 180,
    }
    assert (b["action"], b["deferral"]) == ("now", None)

    markdown = cli("plan", str(spec_dir), "--format", "markdown").out
    assert "> **1 instance will restart (~3 min):** `pgm-b`\n" in markdown
    assert "> **1 instance deferred by policy, not changed by this apply (its restart does not run now):**" in markdown
    assert f"> - `pgm-a`: {NEVER_REASON}\n" in markdown
    assert "| 2 | 1 (~3 min) | 1 | 0 | 0 | 0 | 0 |" in markdown
    assert "No instance restarts" not in markdown
    assert f"**Deferred:** {NEVER_REASON}" in markdown

    # The prompt names the restart that happens, and the deferred one only as deferred.
    cloud_env.admin.clear_calls()
    monkeypatch.setattr("sys.stdin", _Terminal("yes\n"))
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 3, applied.text
    (prompt,) = [line for line in applied.out.splitlines() if line.startswith("Do you want to perform these actions?")]
    assert prompt == (
        "Do you want to perform these actions? 1 instance(s) will restart (~3 min): pgm-b. "
        f"1 instance(s) deferred by policy, not changed by this apply: pgm-a ({NEVER_REASON})."
    )
    assert "pgm-a  deferred" in applied.out
    assert "pgm-b  applied" in applied.out
    assert modifies(cloud_env) == ["pgm-b"]


def test_allow_restart_makes_the_plan_say_now_and_a_saved_plan_keeps_it(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    two_instances(cloud_env, spec_dir)
    document = json.loads(cli("plan", str(spec_dir), "--format", "json", "--allow-restart", "pgm-a").out)
    assert document["allow_restart"] == ["pgm-a"]
    assert {i["id"]: i["action"] for i in document["instances"]} == {"pgm-a": "now", "pgm-b": "now"}
    assert (document["summary"]["restarts"], document["summary"]["deferred"]) == (2, 0)
    text = cli("plan", str(spec_dir), "--allow-restart", "pgm-a")
    assert "deferred" not in text.out
    assert text.out.endswith("Plan: 2 to change, 2 restarts (~3 min each), 0 in sync.\n")
    typo = cli("plan", str(spec_dir), "--allow-restart", "pgm-zzz")
    assert typo.code == 1
    assert "--allow-restart pgm-zzz: not declared in the specs (declared: pgm-a, pgm-b)" in typo.err

    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--allow-restart", "pgm-a", "--out", str(plan_file)).code == 0
    cloud_env.admin.clear_calls()
    # The reviewed file is the approval: its overrides are recorded, and none may be added at apply.
    refused = cli("apply", str(plan_file), "--allow-restart", "pgm-b", *FAST)
    assert refused.code == 1, refused.text
    assert "--allow-restart cannot be used with a saved plan" in refused.err
    assert "records the restarts it allows (pgm-a)" in refused.err
    assert cloud_env.admin.calls() == []
    report = json.loads(cli("apply", str(plan_file), "--format", "json", "--max-restarts", "2", *FAST).out)
    assert outcomes(report) == {"pgm-a": "applied", "pgm-b": "applied"}
    assert sorted(modifies(cloud_env)) == ["pgm-a", "pgm-b"]


@pytest.mark.parametrize(
    ("now", "reason", "closes_at", "next_opening", "sentence"),
    [
        pytest.param(
            FRIDAY,
            "window_closed",
            None,
            "2026-11-28T02:00:00Z",
            "outside maintenance window sat 02:00-04:00 UTC; next opening 2026-11-28 02:00 UTC",
            id="closed",
        ),
        pytest.param(
            SATURDAY_LATE,
            "window_too_short",
            "2026-11-28T04:00:00Z",
            "2026-12-05T02:00:00Z",
            "maintenance window sat 02:00-04:00 UTC closes at 04:00 UTC, too soon for a ~3 min restart; "
            "next opening 2026-12-05 02:00 UTC",
            id="too-close-to-its-end",
        ),
    ],
)
def test_a_window_closed_at_the_plans_time_is_deferred_everywhere(
    cli: Cli,
    cloud_env: RunningEmulator,
    spec_dir: Path,
    now: str,
    reason: str,
    closes_at: str | None,
    next_opening: str,
    sentence: str,
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a", policy=WINDOW))
    text = cli("plan", str(spec_dir), "--now", now)
    assert text.code == 0, text.text
    assert f"      deferred: {sentence}\n" in text.out
    assert text.out.endswith("Plan: 1 to change, 0 restarts now, 1 deferred, 0 in sync.\n")
    assert "will restart" not in text.out

    document = json.loads(cli("plan", str(spec_dir), "--now", now, "--format", "json").out)
    (item,) = document["instances"]
    assert item["action"] == "deferred"
    assert item["deferral"] == {
        "reason": reason,
        "policy": "window",
        "window": "sat 02:00-04:00",
        "closes_at": closes_at,
        "next_opening": next_opening,
        "estimated_seconds": 180,
    }
    assert (document["summary"]["restarts"], document["summary"]["deferred"]) == (0, 1)

    markdown = cli("plan", str(spec_dir), "--now", now, "--format", "markdown").out
    assert f"> - `pgm-a`: {sentence}\n" in markdown
    assert "will restart" not in markdown
    assert "| 1 | 0 | 1 | 0 | 0 | 0 | 0 |" in markdown

    # Nothing runs now, so there is nothing to approve (no terminal, no --auto-approve: no refusal).
    cloud_env.admin.clear_calls()
    result = cli("apply", str(spec_dir), "--now", now, "--format", "json", *FAST)
    assert result.code == 3, result.text
    assert "Do you want" not in result.out + result.err
    assert f"No change runs now: 1 instance(s) deferred by policy, not changed by this apply: pgm-a ({sentence})." in (
        result.err
    )
    report = json.loads(result.out)
    assert outcomes(report) == {"pgm-a": "deferred"}
    assert report["instances"][0]["detail"] == sentence
    assert report["instances"][0]["next_window"] == next_opening
    assert modifies(cloud_env) == []


def test_a_saved_plan_runs_its_own_decisions(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    """Planned inside the window, applied after it closed: deferred in plain words, never run later.
    Planned while closed, applied once it opened: still deferred, as the reviewer read it."""
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a", policy=WINDOW))
    inside = tmp_path / "inside.plan"
    assert cli("plan", str(spec_dir), "--now", SATURDAY_EARLY, "--out", str(inside)).code == 0
    assert json.loads(inside.read_text())["instances"][0]["action"] == "now"
    cloud_env.admin.clear_calls()
    late = json.loads(cli("apply", str(inside), "--now", SATURDAY_LATE, "--format", "json", *FAST).out)
    assert outcomes(late) == {"pgm-a": "deferred"}
    assert late["exit_code"] == 3
    assert late["instances"][0]["detail"] == (
        "not submitted: maintenance window sat 02:00-04:00 UTC closes at 04:00 UTC, too soon for a ~3 min restart; "
        "next opening 2026-12-05 02:00 UTC (the plan shown restarts it now, but at 2026-11-28 03:58 UTC the policy "
        "defers it; plan again)"
    )

    closed = tmp_path / "closed.plan"
    assert cli("plan", str(spec_dir), "--now", FRIDAY, "--out", str(closed)).code == 0
    shown = cli("show", str(closed))
    assert "deferred: outside maintenance window sat 02:00-04:00 UTC; next opening 2026-11-28 02:00 UTC" in shown.out
    opened = json.loads(cli("apply", str(closed), "--now", SATURDAY_EARLY, "--format", "json", *FAST).out)
    assert outcomes(opened) == {"pgm-a": "deferred"}
    assert opened["instances"][0]["detail"] == (
        "outside maintenance window sat 02:00-04:00 UTC; next opening 2026-11-28 02:00 UTC; the policy allows it "
        "now, but the reviewed plan deferred it: plan again to apply it"
    )
    assert modifies(cloud_env) == []

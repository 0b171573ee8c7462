"""--max-restarts K is honoured whatever --parallelism says: K restarts in flight at once, never more.

Observed on the emulator (each accepted modify's accepted/finished times), not on the tool's own account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import run_emulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e

Cli = Callable[..., CliResult]


def peak_in_flight(intervals: list[tuple[datetime, datetime]]) -> int:
    # An end and a start at the same instant: the end first (the slot was free again).
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    busy = peak = 0
    for _, delta in events:
        busy += delta
        peak = max(peak, busy)
    return peak


@pytest.mark.parametrize(("parallelism", "max_restarts", "count"), [(2, 5, 7), (1, 3, 3)])
def test_max_restarts_above_parallelism_runs_that_many_restarts_at_once(
    cli: Cli, spec_dir: Path, monkeypatch: pytest.MonkeyPatch, parallelism: int, max_restarts: int, count: int
) -> None:
    ids = [f"pgm-k{i}" for i in range(count)]
    restart = 2.5
    with run_emulator(fleet={"instances": [instance_entry(i) for i in ids]}, restart_seconds=restart) as emulator:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        write_spec(spec_dir, aliyun_spec(*ids))
        result = cli(
            "apply", str(spec_dir), "--endpoint", emulator.endpoint, "--auto-approve",
            "--parallelism", str(parallelism), "--max-restarts", str(max_restarts),
        )  # fmt: skip
        assert result.code == 0, result.text
        intervals = [(m["accepted_at"], m["finished_at"]) for m in emulator.admin.modifications()]
    assert len(intervals) == count
    # More than --parallelism at once (the pool no longer caps them), and exactly --max-restarts.
    assert peak_in_flight(intervals) == max_restarts
    rounds = -(-count // max_restarts)
    span = (max(end for _, end in intervals) - min(start for start, _ in intervals)).total_seconds()
    assert rounds * restart <= span < (rounds + 1) * restart

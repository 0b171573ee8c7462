"""The per-target, per-instance advisory lock of apply (fcntl.flock), held across processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rdsssl_reconcile.apply.locks import InstanceLocks, LockBusyError, lock_directory, lock_path, read_holder
from rdsssl_reconcile.errors import UserError

TARGET = {"kind": "emulator", "endpoint": "http://127.0.0.1:8080"}


def hold_in_another_process(directory: Path, instance_id: str) -> subprocess.Popen[str]:
    """A child process that takes the lock, says so, and keeps it until its stdin closes."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from rdsssl_reconcile.apply.locks import InstanceLocks
        with InstanceLocks(Path({str(directory)!r}), [{instance_id!r}]):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_lock_path_is_per_target_under_xdg_state_home(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    here = lock_directory(TARGET, env)
    assert here.parent == tmp_path / "rdsssl-reconcile" / "locks"
    assert lock_directory({"kind": "emulator", "endpoint": "http://127.0.0.1:9090"}, env) != here
    assert lock_directory({"kind": "alibaba-cloud", "endpoint": None}, env) != here
    assert lock_path(here, "pgm-a") == here / "pgm-a.lock"
    assert lock_path(here, "../escape").parent == here  # an odd id never leaves the directory
    default = lock_directory(TARGET, {})
    assert default.parents[2] == Path.home() / ".local" / "state"


def test_a_held_lock_refuses_at_once_naming_holder_file_and_option(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, "pgm-a")
    try:
        with pytest.raises(LockBusyError) as refused, InstanceLocks(tmp_path, ["pgm-b", "pgm-a"]):
            pass
        message = str(refused.value)
        assert f"pgm-a is being applied by another run on this machine (pid {child.pid}, started " in message
        assert f"lock file {tmp_path / 'pgm-a.lock'}" in message
        assert "--lock-timeout" in message
        # Nothing is held after a refusal (pgm-a is taken first, in sorted order; pgm-b was never taken).
        with InstanceLocks(tmp_path, ["pgm-b"]):
            pass
    finally:
        child.communicate("")
    assert read_holder(tmp_path / "pgm-a.lock").pid == child.pid


def test_waiting_gives_up_after_the_timeout_and_locks_once_released(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, "pgm-a")
    waits: list[str] = []
    try:
        with pytest.raises(LockBusyError, match=r"after waiting 0\.3 s"):
            InstanceLocks(tmp_path, ["pgm-a"], timeout=0.3, on_wait=lambda i, h, p: waits.append(i)).acquire()
        assert waits == ["pgm-a"]
    finally:
        child.communicate("")
    with InstanceLocks(tmp_path, ["pgm-a"], timeout=0.3) as locks:
        assert read_holder(tmp_path / "pgm-a.lock").pid == os.getpid()
        assert locks.instance_ids == ["pgm-a"]


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    child = hold_in_another_process(tmp_path, "pgm-a")
    child.kill()
    child.communicate()  # reaps it and closes its pipes
    with InstanceLocks(tmp_path, ["pgm-a"]):
        pass


@pytest.mark.parametrize("timeout", [math.nan, math.inf, -1.0])
def test_unusable_timeouts_are_refused(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(UserError, match="--lock-timeout: expected a finite number of seconds >= 0"):
        InstanceLocks(tmp_path, ["pgm-a"], timeout=timeout)

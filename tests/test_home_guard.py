"""The real-home check of tests/conftest.py finds the tool's files and nothing else (acceptance 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.home_guard import SAVED_PLAN_KIND, tool_files_written

ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_tools_files_are_found_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = _write(home / ".local/state/rdsssl-reconcile/old.lock")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    since = time.time() - 1
    audit = _write(home / ".local/state/rdsssl-reconcile/audit.jsonl")
    lock = _write(home / ".local/state/rdsssl-reconcile/locks/abc/pgm-a.lock")
    plan = _write(home / "reviewed-plan.json", json.dumps({"kind": SAVED_PLAN_KIND}))
    stray_audit = _write(home / "somewhere/audit.jsonl")
    # What other programs write meanwhile, and places that are not the user's files.
    _write(home / "other-plan.json", json.dumps({"kind": "terraform"}))
    _write(home / ".bash_history")
    _write(home / ".cache/rdsssl-reconcile/whatever")
    _write(home / "src/rdsssl-reconcile/.git", "gitdir: elsewhere")
    _write(home / "src/rdsssl-reconcile/.pytest_cache/v/cache/lastfailed")
    _write(home / "excluded/rdsssl.txt")
    check = tool_files_written([home], since=since, excluded=[home / "excluded"])
    assert check.complete
    assert set(check.written) == {audit, lock, plan, stray_audit}


def test_an_exhausted_budget_is_reported_not_failed(tmp_path: Path) -> None:
    _write(tmp_path / "a/rdsssl")
    check = tool_files_written([tmp_path], since=0, excluded=[], budget_seconds=-1)
    assert check == type(check)((), complete=False)


def test_the_session_fails_when_a_test_writes_into_the_real_home(tmp_path: Path) -> None:
    """A pytest run whose 'real' HOME is a scratch directory, with one test that bypasses the private home."""
    real_home, scratch = tmp_path / "real-home", tmp_path / "scratch"
    real_home.mkdir()
    scratch.mkdir()
    test_file = _write(
        tmp_path / "tests_elsewhere" / "test_leak.py",
        textwrap.dedent(
            f"""
            from pathlib import Path

            def test_leak():
                target = Path({str(real_home)!r}) / ".local/state/rdsssl-reconcile/audit.jsonl"
                target.parent.mkdir(parents=True)
                target.write_text("{{}}")
            """
        ),
    )
    env = {**os.environ, "HOME": str(real_home), "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT)}
    env.pop("XDG_STATE_HOME", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "tests.conftest", "-p", "no:cacheprovider",
         f"--rootdir={tmp_path}", str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "the test session wrote into the real home" in done.stdout
    assert str(real_home / ".local/state/rdsssl-reconcile/audit.jsonl") in done.stdout

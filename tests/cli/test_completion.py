"""Shell completion, as the README documents it: click's ``_RDSSSL_RECONCILE_COMPLETE`` protocol.

Run through the installed console script in a subprocess, because the variable's name comes from the
program name and completion replaces the normal run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _script() -> str:
    beside = Path(sys.executable).with_name("rdsssl-reconcile")
    found = str(beside) if beside.is_file() else shutil.which("rdsssl-reconcile")
    if found is None:
        pytest.skip("the rdsssl-reconcile console script is not installed (pip install -e .)")
    return found


def _complete(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HOME": str(tmp_path), **env}
    return subprocess.run([_script()], env=environment, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("shell", "marker"), [("bash", "complete -o"), ("zsh", "#compdef"), ("fish", "complete")])
def test_the_completion_script_is_produced(tmp_path: Path, shell: str, marker: str) -> None:
    done = _complete(tmp_path, _RDSSSL_RECONCILE_COMPLETE=f"{shell}_source")
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout
    assert "_RDSSSL_RECONCILE_COMPLETE" in done.stdout


def test_completion_offers_the_lazily_loaded_subcommands_and_options(tmp_path: Path) -> None:
    commands = _complete(
        tmp_path, _RDSSSL_RECONCILE_COMPLETE="bash_complete", COMP_WORDS="rdsssl-reconcile pl", COMP_CWORD="1"
    )
    assert commands.stdout.split() == ["plain,plan"]
    options = _complete(
        tmp_path,
        _RDSSSL_RECONCILE_COMPLETE="bash_complete",
        COMP_WORDS="rdsssl-reconcile plan --detailed",
        COMP_CWORD="2",
    )
    assert options.stdout.split() == ["plain,--detailed-exitcode"]

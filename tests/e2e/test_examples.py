"""The examples/ directories work as their READMEs say (run on a copy, keys generated at run time)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import run_subprocess

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
BIN = str(Path(sys.executable).parent)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the repository's specs/ and examples/ (the examples' _target.yaml points at the demo fleet)."""
    shutil.copytree(REPO / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns(".state"))
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns(".state", "certs", "ca"))
    return tmp_path


def test_custom_certificate_example(workspace: Path) -> None:
    example = workspace / "examples" / "custom-certificate"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    made = subprocess.run(["./make-certs.sh"], cwd=example, env=env, capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (example / "certs" / "server.key").stat().st_mode & 0o777 == 0o600
    assert run_subprocess(["validate"], cwd=example).code == 0
    planned = run_subprocess(["plan", "--detailed-exitcode"], cwd=example)
    assert planned.code == 2, planned.text
    assert "Configure a custom certificate: required" in planned.out
    refused = run_subprocess(["apply", "--auto-approve", "--poll-interval", "0.2"], cwd=example)
    assert refused.code == 3  # policy never
    assert "--allow-restart pgm-demo-analytics" in refused.out
    applied = run_subprocess(
        ["apply", "--auto-approve", "--poll-interval", "0.2", "--allow-restart", "pgm-demo-analytics"], cwd=example
    )
    assert applied.code == 0, applied.text
    assert run_subprocess(["plan", "--detailed-exitcode"], cwd=example).code == 0


def test_issuer_example(workspace: Path) -> None:
    example = workspace / "examples" / "issuer"
    assert run_subprocess(["certs", "ca", "create", "--cn", "orders issuing CA", "--out", "ca"], cwd=example).code == 0
    env = {"ORDERS_CA_KEY": (example / "ca" / "server-ca.key").read_text()}
    planned = run_subprocess(["plan"], cwd=example, env=env)
    assert "issue: no certificate from this CA is installed yet" in planned.out
    assert run_subprocess(["apply", "--auto-approve", "--poll-interval", "0.2"], cwd=example, env=env).code == 0
    near_expiry = (datetime.now(UTC) + timedelta(days=350)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = run_subprocess(["plan", "--detailed-exitcode", "--now", near_expiry], cwd=example, env=env)
    assert later.code == 2
    assert "renew: expires in" in later.out

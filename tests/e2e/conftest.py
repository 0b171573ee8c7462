"""End-to-end helpers: run the real CLI (in-process or as a subprocess) against a running emulator.

The CLI reaches the emulator only through the official SDK (``--endpoint`` / ``RDSSSL_ENDPOINT`` with
credentials from the SDK's standard chain, here ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate

PRIVATE_KEY_MARKERS = ("PRIVATE KEY-----", "BEGIN RSA PRIVATE", "BEGIN EC PRIVATE")


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cloud_env(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunningEmulator:
    """Point the CLI at the emulator the way a user would: endpoint and standard-chain credentials.

    ``XDG_STATE_HOME`` (the default audit log and apply's instance locks) is the test's own tmp dir.
    """
    monkeypatch.setenv("RDSSSL_ENDPOINT", emulator.endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return emulator


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run ``rdsssl-reconcile ARGS`` in-process; returns exit code, stdout and stderr."""

    def invoke(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return CliResult(code=code, out=captured.out, err=captured.err)

    return invoke


def run_subprocess(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    full_env = {**os.environ, **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(code=completed.returncode, out=completed.stdout, err=completed.stderr)


def write_spec(directory: Path, text: str, name: str = "spec.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def aliyun_spec(*ids: str, policy: str = "") -> str:
    """A spec putting each instance on the cloud certificate for its default endpoint."""
    lines = ["instances:"]
    for instance_id in ids:
        lines += [
            f"  - id: {instance_id}",
            "    region: cn-hangzhou",
            f"    ssl: {{enabled: true, endpoints: [{endpoint_of(instance_id)}], certificate: {{source: aliyun}}}}",
        ]
        if policy:
            lines.append(f"    policy: {policy}")
    return "\n".join(lines) + "\n"


def instance_entry(instance_id: str, **overrides: Any) -> dict[str, Any]:
    """A fleet entry for the emulator (defaults: PostgreSQL 15, cloud ESSD, Running, SSL off)."""
    return {"id": instance_id, "region": "cn-hangzhou", **overrides}


def endpoint_of(instance_id: str) -> str:
    return f"{instance_id}.pg.rds.aliyuncs.com"


@dataclass
class Pki:
    """A CA and server certificates issued at run time (never committed)."""

    ca: CertificateAuthority
    now: datetime

    def server(self, *endpoints: str, days: int = 365) -> IssuedCertificate:
        return self.ca.issue_server_certificate(list(endpoints), now=self.now, days=days)


@pytest.fixture(scope="session")
def pki() -> Pki:
    now = datetime.now(UTC)
    return Pki(ca=CertificateAuthority.create("e2e-test-ca", now=now), now=now)


def key_fragments(key_pem: str) -> list[str]:
    """Slices of the key's base64 body: none may appear in any output."""
    body = "".join(line for line in key_pem.splitlines() if not line.startswith("-----"))
    return [body[i : i + 40] for i in range(0, len(body) - 40, 97)]


def assert_no_key_material(text: str, *keys: str) -> None:
    for marker in PRIVATE_KEY_MARKERS:
        assert marker not in text, f"{marker!r} found in output"
    for key in keys:
        for fragment in key_fragments(key):
            assert fragment not in text, "a fragment of a private key's base64 body was found in output"


@pytest.fixture
def spec_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "specs"
    directory.mkdir()
    return directory

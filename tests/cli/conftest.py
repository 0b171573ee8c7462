"""Fixtures for the certs command tests: the CLI run in-process with its output captured, and procedure files."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from rdsssl_reconcile.cli import run
from tests.support.openssl_procedure import ProcedureFiles, procedure_san, procedure_single_endpoint

TWO_ENDPOINTS = ("pgm-bp1abc.pg.rds.aliyuncs.com", "pgr-bp1abc.pg.rds.aliyuncs.com")


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(*args: str | Path) -> Ran:
    """``rdsssl-reconcile ARGS`` in-process through cli.run(), as the console script would run it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run([str(a) for a in args])
    return Ran(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class IssuedFiles:
    ca_dir: Path
    server_dir: Path
    outputs: tuple[Ran, ...]

    @property
    def ca_cert(self) -> Path:
        return self.ca_dir / "server-ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.ca_dir / "server-ca.key"

    @property
    def server_cert(self) -> Path:
        return self.server_dir / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.server_dir / "server.key"

    @property
    def server_csr(self) -> Path:
        return self.server_dir / "server.csr"


@pytest.fixture(scope="module")
def made_by_cli(tmp_path_factory: pytest.TempPathFactory) -> IssuedFiles:
    """``certs ca create`` then ``certs issue`` with two endpoints (acceptance 1's files)."""
    base = tmp_path_factory.mktemp("certs-cli")
    ca_dir, server_dir = base / "ca", base / "server"
    created = run_cli("certs", "ca", "create", "--cn", "root-server-ca", "--out", ca_dir)
    assert created.code == 0, created.output
    issued = run_cli(
        "certs", "issue", "--ca-cert", ca_dir / "server-ca.crt", "--ca-key", ca_dir / "server-ca.key",
        "--endpoint", TWO_ENDPOINTS[0], "--endpoint", TWO_ENDPOINTS[1], "--out", server_dir,
    )  # fmt: skip
    assert issued.code == 0, issued.output
    return IssuedFiles(ca_dir=ca_dir, server_dir=server_dir, outputs=(created, issued))


@pytest.fixture(scope="module")
def procedure_single(tmp_path_factory: pytest.TempPathFactory) -> ProcedureFiles:
    return procedure_single_endpoint(tmp_path_factory.mktemp("procedure-single"))


@pytest.fixture(scope="module")
def procedure_multi(tmp_path_factory: pytest.TempPathFactory) -> ProcedureFiles:
    return procedure_san(tmp_path_factory.mktemp("procedure-san"))

"""``verify`` against real PostgreSQL servers behind the emulator (issue 12, the verify half of acceptance 1).

Each instance is backed by its own cluster (``tests/support/backed.py``, from the backed-instances work of
the same issue); ``--resolve NAME:PORT:ADDRESS`` sends the connection to its server while the name checks
use the endpoint name, as libpq's ``host=NAME hostaddr=ADDRESS`` does. Before the apply the server has SSL
off (verify: ``no_ssl``, exit 2); after it, verify reports the served fingerprint equal to the spec's
(``custom``), the issuance by the spec's CA (``issuer``), and both names of a two-SAN certificate. The plain
startup meets the real server's pg_hba.conf.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.pem import load_certificate
from rdsssl_reconcile.pki.summary import summarize_certificate
from tests.e2e.conftest import CliResult, endpoint_of, instance_entry, write_spec

# tests/support/backed.py's gate fails these under CI when PostgreSQL is missing, as for every postgres test.
from tests.support import backed as backed_support

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
FAST = ("--auto-approve", "--poll-interval", "0.05")
Cli = Callable[..., CliResult]
SECOND = "pgm-vsans-pub.pg.rds.aliyuncs.com"


@pytest.fixture(scope="module")
def backed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    fleet = {
        "instances": [
            instance_entry("pgm-vcustom"),
            instance_entry("pgm-vissuer"),
            instance_entry("pgm-vacl"),
            instance_entry(
                "pgm-vsans", endpoints=[{"host": endpoint_of("pgm-vsans")}, {"host": SECOND, "type": "Public"}]
            ),
        ]
    }
    with backed_support.backed_emulator(tmp_path_factory.mktemp("pg"), fleet, restart_seconds=0.2) as emulator:
        yield emulator


@pytest.fixture
def env(backed: RunningEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> RunningEmulator:
    monkeypatch.setenv("RDSSSL_ENDPOINT", backed.endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", backed.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", backed.access_key_secret)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    return backed


def _certs(cli: Cli, out: Path, *endpoints: str) -> Path:
    """``certs ca create`` then ``certs issue`` for ``endpoints`` (the documented procedure's files)."""
    assert cli("certs", "ca", "create", "--out", str(out / "ca")).code == 0
    issue = ["certs", "issue", "--ca-cert", str(out / "ca/server-ca.crt"), "--ca-key", str(out / "ca/server-ca.key")]
    for endpoint in endpoints:
        issue += ["--endpoint", endpoint]
    result = cli(*issue, "--out", str(out / "server"))
    assert result.code == 0, result.err
    return out


def _verify(cli: Cli, emulator: RunningEmulator, spec_dir: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = cli("verify", str(spec_dir), *backed_support.resolve_options(emulator), "--format", "json", *extra)
    return result.code, json.loads(result.out)


def _endpoints(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for i in document["instances"] for e in i["endpoints"]}


def _codes(endpoint: dict[str, Any]) -> set[str]:
    return {f["code"] for f in endpoint["findings"]}


def test_custom_certificate_before_and_after_apply(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    name = endpoint_of("pgm-vcustom")
    certs = _certs(cli, tmp_path / "certs", name)
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-vcustom
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{name}]
              certificate:
                source: custom
                cert: {{file: {certs / "server/server.crt"}}}
                key: {{file: {certs / "server/server.key"}}}
        """,
    )
    code, before = _verify(cli, env, spec_dir)
    assert code == 2
    assert _codes(_endpoints(before)[name]) == {"no_ssl"}

    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err
    code, after = _verify(cli, env, spec_dir, "--ca-bundle", str(certs / "ca/server-ca.crt"))
    assert code == 0, after
    endpoint = _endpoints(after)[name]
    declared = summarize_certificate(load_certificate((certs / "server/server.crt").read_text())).sha256
    assert endpoint["certificate"]["sha256"] == declared
    assert {"certificate", "chain", "name", "expiry", "tls"} <= _codes(endpoint)
    assert endpoint["ssl_answer"] == "S"
    assert endpoint["plain_accepted"] is not None  # the real server's answer to a startup without SSL was told


def test_issuer_certificate_is_issued_by_the_specs_ca(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    name = endpoint_of("pgm-vissuer")
    certs = _certs(cli, tmp_path / "certs", "unused.example.com")
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-vissuer
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{name}]
              certificate:
                source: issuer
                ca_cert: {{file: {certs / "ca/server-ca.crt"}}}
                ca_key: {{file: {certs / "ca/server-ca.key"}}}
        """,
    )
    assert _verify(cli, env, spec_dir)[0] == 2
    assert cli("apply", str(spec_dir), *FAST).code == 0
    code, after = _verify(cli, env, spec_dir)
    assert code == 0, after
    assert {"issuer", "name"} <= _codes(_endpoints(after)[name])


def test_two_sans_each_name_is_verified_and_apply_verify_proves_it(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    first = endpoint_of("pgm-vsans")
    certs = _certs(cli, tmp_path / "certs", first, SECOND)
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-vsans
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{first}, {SECOND}]
              certificate:
                source: custom
                cert: {{file: {certs / "server/server.crt"}}}
                key: {{file: {certs / "server/server.key"}}}
        """,
    )
    applied = cli("apply", str(spec_dir), *FAST, "--verify", *backed_support.resolve_options(env), "--format", "json")
    assert applied.code == 0, applied.err
    (item,) = json.loads(applied.out)["instances"]
    assert item["outcome"] == "applied"
    assert item["verify"]["status"] == "ok"
    code, after = _verify(cli, env, spec_dir)
    assert code == 0, after
    endpoints = _endpoints(after)
    assert set(endpoints) == {first, SECOND}
    for name in (first, SECOND):
        (covered,) = [f for f in endpoints[name]["findings"] if f["code"] == "name"]
        assert covered["message"].startswith(f"covers {name} ")


def test_the_real_servers_pg_hba_refuses_clients_without_ssl_under_a_forcing_acl(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    name = endpoint_of("pgm-vacl")
    certs = _certs(cli, tmp_path / "certs", name)
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-vacl
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{name}]
              certificate:
                source: custom
                cert: {{file: {certs / "server/server.crt"}}}
                key: {{file: {certs / "server/server.key"}}}
              client_ca: {{cert: {{file: {certs / "ca/server-ca.crt"}}}, acl: verify-ca}}
        """,
    )
    assert cli("apply", str(spec_dir), *FAST).code == 0
    result, document = _verify(cli, env, spec_dir)
    endpoint = _endpoints(document)[name]
    (plain,) = [f for f in endpoint["findings"] if f["code"].startswith("plain_")]
    assert (plain["code"], endpoint["status"], result) == ("plain_refused", "ok", 0), document
    assert "pg_hba.conf" in plain["message"]  # the real server's own words
    assert endpoint["plain_accepted"] is False

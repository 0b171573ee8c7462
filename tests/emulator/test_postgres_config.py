"""What a backed instance's server is configured with (pure), and how the busy window waits for it.

No PostgreSQL here: ``pgconfig`` is text from SSL state, and the backend's side of a backed restart is
driven through a fake backing that reports the restart as pending, done or failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator.backend import ModifySslRequest, RdsBackend
from rdsssl_reconcile.emulator.clock import BusinessClock
from rdsssl_reconcile.emulator.fleet import FleetError, instance_to_entry, parse_fleet
from rdsssl_reconcile.emulator.models import SslState
from rdsssl_reconcile.emulator.pgconfig import (
    CLIENT_CA,
    CLIENT_CRL,
    SERVER_KEY,
    cluster_files,
    forces_ssl,
    hba_conf,
)
from rdsssl_reconcile.emulator.postgres import PgBinaries, PostgresBacking, candidate_bindirs, parse_backed_option
from rdsssl_reconcile.emulator.settings import EmulatorSettings
from rdsssl_reconcile.pki.authority import CertificateAuthority

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    ca = CertificateAuthority.create("pg-config-ca", now=NOW)
    issued = ca.issue_server_certificate(["pgm-a.pg.rds.aliyuncs.com"], now=NOW, days=30)
    return issued.cert_pem(), issued.key_pem()


def _ssl(pair: tuple[str, str], **changes: object) -> SslState:
    cert, key = pair
    fields: dict[str, object] = {"enabled": True, "ca_type": "custom", "server_cert": cert, "server_key": key}
    fields.update(changes)
    return SslState(**fields)  # type: ignore[arg-type]


def _rules(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line and not line.startswith("#")]


def test_ssl_off_admits_plain_connections_and_serves_no_files() -> None:
    files = cluster_files(SslState(), 5555)
    assert "ssl = off" in files.texts["rdsssl-emulator.conf"]
    assert "port = 5555" in files.texts["rdsssl-emulator.conf"]
    assert "listen_addresses = '127.0.0.1'" in files.texts["rdsssl-emulator.conf"]
    assert SERVER_KEY not in files.texts
    assert [r[0] for r in _rules(files.texts["pg_hba.conf"])] == ["host", "host"]


def test_ssl_on_serves_the_pair_with_the_key_0600(pair: tuple[str, str]) -> None:
    files = cluster_files(_ssl(pair), 5555)
    conf = files.texts["rdsssl-emulator.conf"]
    assert "ssl = on" in conf
    assert "ssl_ca_file = ''" in conf
    assert files.texts[SERVER_KEY] == pair[1]
    assert files.modes[SERVER_KEY] == 0o600
    assert pair[1] not in repr(files)
    # prefer (no ACL): SSL and non-SSL sessions alike
    assert _rules(files.texts["pg_hba.conf"]) == [
        ["host", "replication", "all", "127.0.0.1/32", "trust"],
        ["host", "all", "all", "127.0.0.1/32", "trust"],
    ]
    assert not forces_ssl(_ssl(pair))


@pytest.mark.parametrize(
    ("acl", "rule"),
    [
        ("verify-ca", ["hostssl", "all", "all", "127.0.0.1/32", "trust", "clientcert=verify-ca"]),
        ("verify-full", ["hostssl", "all", "all", "127.0.0.1/32", "trust", "clientcert=verify-full"]),
        ("cert", ["hostssl", "all", "all", "127.0.0.1/32", "cert"]),
        ("prefer", ["host", "all", "all", "127.0.0.1/32", "trust"]),
    ],
)
def test_the_acl_becomes_the_pg_hba_rule(pair: tuple[str, str], acl: str, rule: list[str]) -> None:
    ssl = _ssl(pair, client_ca_cert=pair[0], acl=acl, replication_acl="verify-full")
    rules = _rules(hba_conf(ssl))
    assert rules[1] == rule
    assert rules[0] == ["hostssl", "replication", "all", "127.0.0.1/32", "trust", "clientcert=verify-full"]
    # A forcing ACL leaves no line a non-SSL session could match.
    assert forces_ssl(ssl) == (acl != "prefer")
    assert (rule[0] == "host") == (acl == "prefer")


def test_client_ca_and_crl_files_follow_the_state(pair: tuple[str, str]) -> None:
    with_crl = cluster_files(_ssl(pair, client_ca_cert="CA PEM", crl="CRL PEM", acl="verify-ca"), 1)
    assert with_crl.texts[CLIENT_CA] == "CA PEM"
    assert with_crl.texts[CLIENT_CRL] == "CRL PEM"
    assert f"ssl_crl_file = '{CLIENT_CRL}'" in with_crl.texts["rdsssl-emulator.conf"]
    without = cluster_files(_ssl(pair), 1)
    assert CLIENT_CA not in without.texts
    assert CLIENT_CRL not in without.texts


def test_the_backed_fleet_key_round_trips_and_is_checked() -> None:
    (instance,) = parse_fleet({"instances": [{"id": "pgm-a", "region": "r", "backed": True}]}, source="t", now=NOW)
    assert instance.backed
    assert instance_to_entry(instance, secrets=False)["backed"] is True
    (plain,) = parse_fleet({"instances": [{"id": "pgm-b", "region": "r"}]}, source="t", now=NOW)
    assert "backed" not in instance_to_entry(plain, secrets=False)
    with pytest.raises(FleetError, match=r"instances\[0\]\.backed: expected true or false"):
        parse_fleet({"instances": [{"id": "pgm-a", "region": "r", "backed": "yes"}]}, source="t", now=NOW)


def test_the_backed_option() -> None:
    assert parse_backed_option("all") == "all"
    assert parse_backed_option("pgm-a, pgm-b") == ("pgm-a", "pgm-b")
    assert parse_backed_option(" , ") is None
    assert parse_backed_option(None) is None


def test_binaries_are_looked_for_in_the_documented_order(tmp_path: Path) -> None:
    found = candidate_bindirs({"RDSSSL_PG_BINDIR": str(tmp_path), "PATH": str(tmp_path / "none")})
    assert found[0] == tmp_path
    debian = [p for p in found if str(p).startswith("/usr/lib/postgresql/")]
    assert debian == sorted(debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)


class FakeBacking:
    """Records what the backend asks for; the test says how the restart is going."""

    def __init__(self) -> None:
        self.state = "pending"
        self.served: list[tuple[str, str, SslState]] = []
        self.synced: list[Mapping[str, SslState]] = []

    def reconfigure(self, instance_id: str, request_id: str, ssl: SslState) -> None:
        self.served.append((instance_id, request_id, ssl))

    def restart_state(self, instance_id: str, request_id: str) -> str:
        return self.state

    def sync(self, wanted: Mapping[str, SslState]) -> None:
        self.synced.append(dict(wanted))

    def address(self, instance_id: str) -> tuple[str, int] | None:
        return ("127.0.0.1", 6543)


def _backend(backing: FakeBacking) -> RdsBackend:
    clock = BusinessClock()
    backend = RdsBackend(clock=clock, settings=EmulatorSettings(restart_seconds=0.0))
    backend.reset(
        parse_fleet(
            {"instances": [{"id": "pgm-a", "region": "r", "backed": True}, {"id": "pgm-b", "region": "r"}]},
            source="t",
            now=clock.now(),
        )
    )
    backend.set_backing(backing)
    return backend


def _enable(backend: RdsBackend, instance_id: str, request_id: str) -> None:
    backend.modify_ssl(
        ModifySslRequest(
            instance_id=instance_id,
            connection_string=f"{instance_id}.pg.rds.aliyuncs.com",
            ssl_enabled="1",
            ca_type="aliyun",
        ),
        request_id=request_id,
    )


def test_a_backed_instance_stays_busy_until_its_server_is_back() -> None:
    backing = FakeBacking()
    backend = _backend(backing)
    assert list(backing.synced[-1]) == ["pgm-a"]  # only backed instances get a server
    _enable(backend, "pgm-a", "req-1")
    (served,) = backing.served
    assert served[:2] == ("pgm-a", "req-1")
    assert served[2].enabled
    assert served[2].server_cert  # the cloud certificate issued for the modify is what the server gets
    # The emulated window (0 s) is over, the real restart is not: still busy.
    assert backend.get_instance("pgm-a").status == "SSL_MODIFYING"
    backing.state = "done"
    settled = backend.get_instance("pgm-a")
    assert settled.status == "Running"
    assert settled.last_modify_status == "success"
    assert settled.ssl.enabled


def test_a_server_that_refuses_the_new_settings_fails_the_modify() -> None:
    backing = FakeBacking()
    backend = _backend(backing)
    _enable(backend, "pgm-a", "req-1")
    backing.state = "failed"
    settled = backend.get_instance("pgm-a")
    assert settled.status == "Running"
    assert settled.last_modify_status == "failed"
    assert not settled.ssl.enabled


def test_an_instance_without_a_server_is_not_waited_for() -> None:
    backing = FakeBacking()
    backend = _backend(backing)
    _enable(backend, "pgm-b", "req-2")
    assert backing.served == []
    assert backend.get_instance("pgm-b").status == "Running"


def test_a_damaged_record_cannot_make_cleanup_delete_another_directory(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    (victim / "data").mkdir(parents=True)
    (victim / "keep.txt").write_text("mine")
    base = tmp_path / "pg"
    base.mkdir()
    record = {"format": "x", "owner_pid": 0, "runtime_dir": str(tmp_path), "clusters": {"pgm-a": {"home": str(victim)}}}
    (base / "servers.json").write_text(json.dumps(record))
    backing = PostgresBacking(base, binaries=PgBinaries(tmp_path / "no-bin"))
    assert backing.stopped_leftovers == []
    assert (victim / "keep.txt").read_text() == "mine"
    assert tmp_path.is_dir()  # runtime_dir is honoured only for the emulator's own temp directories
    assert not (base / "servers.json").exists()

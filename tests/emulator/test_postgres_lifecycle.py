"""Backed instances' servers: who runs them, what they serve, and that none outlives its emulator.

Real PostgreSQL (marked ``postgres``). As root (CI, this machine) the servers must run as an unprivileged
user that owns the data directory and the key; as a normal user they run as that user.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import run_emulator, spawn_emulator_process
from rdsssl_reconcile.emulator.postgres import REGISTRY_NAME, postmaster_pid, server_user
from rdsssl_reconcile.errors import UserError
from tests.support.backed import backed_emulator, data_dir_of, postmaster_of, psql, psql_conninfo, require_postgres

pytestmark = pytest.mark.postgres
NAME = "pgm-life.pg.rds.aliyuncs.com"


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose (its parent, init, has not reaped it yet).
    return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


def _wait_running(client: Any, instance_id: str, timeout: float = 60) -> None:
    from alibabacloud_rds20140815 import models

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = (
            client.describe_dbinstance_attribute(models.DescribeDBInstanceAttributeRequest(dbinstance_id=instance_id))
            .body.items.dbinstance_attribute[0]
            .dbinstance_status
        )
        if status == "Running":
            return
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} did not return to Running")


def test_servers_run_unprivileged_own_their_files_and_follow_ssl_on_and_off(tmp_path: Path) -> None:
    from alibabacloud_rds20140815 import models

    fleet = {"instances": [{"id": "pgm-life", "region": "cn-hangzhou", "ssl": {"enabled": True}}]}
    with backed_emulator(tmp_path / "pg", fleet) as emulator:
        pid = postmaster_of(emulator, "pgm-life")
        assert pid is not None
        data_dir = data_dir_of(emulator, "pgm-life")
        user = server_user()
        expected_uid = os.geteuid() if user is None else user.uid
        assert expected_uid != 0
        assert _uid_of(pid) == expected_uid
        assert data_dir.stat().st_uid == expected_uid
        key = data_dir / "server.key"
        assert key.stat().st_uid == expected_uid
        assert key.stat().st_mode & 0o777 == 0o600

        # DescribeDBInstanceNetInfo: the endpoint's name as ever, the real server's address and port.
        client = emulator.sdk_client()
        (info,) = client.describe_dbinstance_net_info(
            models.DescribeDBInstanceNetInfoRequest(dbinstance_id="pgm-life")
        ).body.dbinstance_net_infos.dbinstance_net_info
        assert info.connection_string == NAME
        assert (info.ipaddress, int(info.port)) == emulator.backed_endpoints()[NAME]

        # The fleet's cloud certificate is served from the start; the emulated CA verifies it.
        ca = tmp_path / "ca.pem"
        ca.write_text(emulator.admin.ca_pem())
        on = psql(psql_conninfo(emulator, NAME, sslmode="verify-full", sslrootcert=str(ca)), "SHOW ssl")
        assert (on.ok, on.out) == (True, "on"), on.err

        client.modify_dbinstance_ssl(
            models.ModifyDBInstanceSSLRequest(dbinstance_id="pgm-life", connection_string=NAME, sslenabled=0)
        )
        _wait_running(client, "pgm-life")
        off = psql(psql_conninfo(emulator, NAME, sslmode="disable"), "SHOW ssl")
        assert (off.ok, off.out) == (True, "off"), off.err
        required = psql(psql_conninfo(emulator, NAME, sslmode="require"))
        assert not required.ok
        assert "does not support SSL" in required.err
        assert not key.exists()  # the key is not left in the data directory once SSL is off
        assert postmaster_of(emulator, "pgm-life") != pid  # restarted for real
        last = postmaster_of(emulator, "pgm-life")
        assert last is not None
    # A clean stop: no server, no record, no cluster left.
    assert not _alive(last)
    assert not (tmp_path / "pg" / REGISTRY_NAME).exists()
    assert not data_dir.exists()


def test_a_killed_emulator_leaves_no_server_behind_on_its_next_start(tmp_path: Path) -> None:
    require_postgres()
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("instances:\n  - {id: pgm-kill, region: cn-hangzhou}\n")
    pg_dir = tmp_path / "pg"
    state = tmp_path / "state.json"
    extra = ["--backed", "pgm-kill", "--postgres-dir", str(pg_dir), "--quiet"]

    def server_pid() -> int:
        record = json.loads((pg_dir / REGISTRY_NAME).read_text())
        pid = postmaster_pid(Path(record["clusters"]["pgm-kill"]["home"]) / "data")
        assert pid is not None
        return pid

    first = spawn_emulator_process(fleet, state_file=state, extra_args=extra, output_dir=tmp_path / "out")
    try:
        orphan = server_pid()
    finally:
        first.kill()  # SIGKILL: no shutdown code runs
    assert _alive(orphan), "the server should outlive a SIGKILLed emulator (what the next start cleans up)"

    with spawn_emulator_process(fleet, state_file=state, extra_args=extra, output_dir=tmp_path / "out") as second:
        assert not _alive(orphan)
        current = server_pid()
        assert current != orphan
        assert _alive(current)
        port = json.loads((pg_dir / REGISTRY_NAME).read_text())["clusters"]["pgm-kill"]["port"]
        assert f"Backed: pgm-kill is PostgreSQL on 127.0.0.1:{port}" in _wait_output(second, "Backed:")
        assert second.stop() == 0  # SIGTERM: the clean path
    assert not _alive(current)
    assert not (pg_dir / REGISTRY_NAME).exists()


def _wait_output(process: Any, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = str(process.output())
        if text in output:
            return output
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never printed: {process.output()}")


def test_backed_names_an_unknown_instance(tmp_path: Path) -> None:
    fleet = {"instances": [{"id": "pgm-able", "region": "r"}]}
    with (
        pytest.raises(
            UserError, match=r"^--backed: no instance 'pgm-abel' \(did you mean 'pgm-able'\?\) in the fleet$"
        ),
        run_emulator(fleet, backed=["pgm-abel"], postgres_dir=tmp_path),
    ):
        pass
    assert list(tmp_path.iterdir()) == []  # refused before any server or directory was made

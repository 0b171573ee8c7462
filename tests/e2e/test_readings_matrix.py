"""Plan and apply under every combination of the emulator's open readings (issue 9, acceptance 3).

Nobody outside Alibaba can say yet how the real API reads a comma-separated ``DBInstanceId`` in
DescribeDBInstances, how several endpoints travel in ``ConnectionString``, or which status string an
instance shows during an SSL change (docs/emulator.md, "Open questions"). The client must work under each
reading, so each cell of this matrix runs the real CLI, through the official SDK, against an emulator
started with that cell's settings:

- ``plan --format json``: every existing instance is planned (none reads ``not_found``; the one id that
  does not exist does);
- ``apply --auto-approve``: every change lands (the missing id is reported failed, exit code 3);
- ``plan --detailed-exitcode``: nothing is left to change.

The fleet has what each reading can trip over: a primary that needs the cloud certificate, a custom
certificate whose two SANs cover the instance's two endpoints (issued at run time), a read-only replica,
an id that does not exist, and enough other instances in the region that a DescribeDBInstances that ignores
its id filter does not return the spec's instances on its first page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from tests.e2e.conftest import CliResult, Pki, endpoint_of, instance_entry, write_spec
from tests.emulator.helpers import describe_ssl

pytestmark = pytest.mark.e2e

DESCRIBE_IDS = ("list", "first", "ignored", "literal", "error")
CONNECTION_STRING_FORMATS = ("comma", "semicolon", "certificate-sans")
BUSY_STATUSES = ("SSL_MODIFYING", "SSLModifying")

CLOUD = "pgm-mx-cloud"
CUSTOM = "pgm-mx-custom"
REPLICA = "pgm-mx-replica"
MISSING = "pgm-mx-missing"
CUSTOM_PUBLIC = "pgm-mx-custom-o.pg.rds.aliyuncs.com"
#: More instances than one DescribeDBInstances page (100) holds, listed before the spec's instances.
FILLERS = [f"pgm-mx-other-{n:03d}" for n in range(110)]

Cli = Callable[..., CliResult]


@dataclass(frozen=True)
class Cell:
    describe_ids: str
    connection_string_format: str
    busy_status: str

    @property
    def settings(self) -> dict[str, Any]:
        return {
            "describe_ids": self.describe_ids,
            "connection_string_format": self.connection_string_format,
            "busy_status": self.busy_status,
        }


CELLS = [
    pytest.param(Cell(ids, fmt, busy), id=f"{ids}-{fmt}-{busy}")
    for ids in DESCRIBE_IDS
    for fmt in CONNECTION_STRING_FORMATS
    for busy in BUSY_STATUSES
]


def fleet() -> dict[str, Any]:
    others = [instance_entry(i) for i in FILLERS]
    return {
        "instances": [
            *others,
            instance_entry(CLOUD),
            instance_entry(
                CUSTOM,
                endpoints=[{"host": endpoint_of(CUSTOM)}, {"host": CUSTOM_PUBLIC, "type": "Public"}],
            ),
            instance_entry(REPLICA, instance_type="Readonly", master_instance_id=CLOUD),
        ]
    }


def spec(directory: Path, pki: Pki) -> Path:
    issued = pki.server(endpoint_of(CUSTOM), CUSTOM_PUBLIC)
    (directory / "custom.crt").write_text(issued.cert_pem(), encoding="utf-8")
    key = directory / "custom.key"
    key.write_text(issued.key_pem(), encoding="utf-8")
    key.chmod(0o600)
    aliyun = "certificate: {source: aliyun}"
    custom = "certificate: {source: custom, cert: {file: custom.crt}, key: {file: custom.key}}"
    return write_spec(
        directory,
        f"""
        instances:
          - id: {CLOUD}
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of(CLOUD)}], {aliyun}}}
          - id: {CUSTOM}
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of(CUSTOM)}, {CUSTOM_PUBLIC}], {custom}}}
          - id: {REPLICA}
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of(REPLICA)}], {aliyun}}}
          - id: {MISSING}
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of(MISSING)}], {aliyun}}}
        """,
    )


@pytest.fixture
def matrix_emulator(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[RunningEmulator]:
    cell: Cell = request.param
    with run_emulator(fleet(), restart_seconds=0.2, **cell.settings) as emulator:
        monkeypatch.setenv("RDSSSL_ENDPOINT", emulator.endpoint)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", emulator.access_key_id)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", emulator.access_key_secret)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        yield emulator


def statuses(plan_json: str) -> dict[str, str]:
    return {i["id"]: i["status"] for i in json.loads(plan_json)["instances"]}


@pytest.mark.parametrize("matrix_emulator", CELLS, indirect=True)
def test_plan_apply_replan_under_every_reading(
    cli: Cli, matrix_emulator: RunningEmulator, spec_dir: Path, pki: Pki
) -> None:
    emulator = matrix_emulator
    settings = emulator.admin.settings()
    cell = {k: settings[k] for k in ("describe_ids", "connection_string_format", "busy_status")}
    spec(spec_dir, pki)

    planned = cli("plan", str(spec_dir), "--format", "json")
    # MISSING does not exist: the plan fails (README "Exit codes"), and still reports every instance.
    assert planned.code == 1, (cell, planned.text)
    assert statuses(planned.out) == {
        CLOUD: "change",
        CUSTOM: "change",
        REPLICA: "change",
        MISSING: "not_found",
    }, cell

    applied = cli("apply", str(spec_dir), "--auto-approve", "--poll-interval", "0.05", "--format", "json")
    outcomes = {i["id"]: i["outcome"] for i in json.loads(applied.out)["instances"]}
    # Every existing instance converges; the id that does not exist cannot be applied, which apply reports
    # as failed with exit code 1 (README "Exit codes"), whatever the reading.
    assert outcomes == {CLOUD: "applied", CUSTOM: "applied", REPLICA: "applied", MISSING: "failed"}, (
        cell,
        applied.text,
    )
    assert applied.code == 1, (cell, applied.text)
    client = emulator.sdk_client()
    for instance_id, ca_type in ((CLOUD, "aliyun"), (CUSTOM, "custom"), (REPLICA, "aliyun")):
        body = describe_ssl(client, instance_id)
        assert (body.sslenabled, body.catype) == ("on", ca_type), (cell, instance_id)
    custom_hosts = set(emulator.admin.instance(CUSTOM)["protected_hosts"])
    assert custom_hosts == {endpoint_of(CUSTOM), CUSTOM_PUBLIC}, cell

    replanned = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert replanned.code == 1, (cell, replanned.text)  # everything converged but MISSING, still missing
    assert "Error: 1 instance(s) cannot be planned or can never satisfy their spec:\n  - pgm-mx-missing: not found" in (
        replanned.err
    )
    again = cli("plan", str(spec_dir), "--format", "json")
    assert statuses(again.out) == {CLOUD: "in_sync", CUSTOM: "in_sync", REPLICA: "in_sync", MISSING: "not_found"}

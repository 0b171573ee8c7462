"""Property: sending the plan's request to the emulator leaves nothing to plan (idempotence).

For random desired states and random starting states, through the official SDK: plan, send the one
request the plan shows, let the restart finish, read again, plan again -> in sync.
"""

from __future__ import annotations

import itertools
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdsssl_reconcile.cloud.session import connect
from rdsssl_reconcile.cloud.target import Credentials, Target
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.live.reader import InstanceRef, read_one
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.pki.pem import crl_to_pem
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.planning.model import PlanStatus
from rdsssl_reconcile.planning.planner import plan_instance
from rdsssl_reconcile.planning.request import SERVER_FIELDS, build_parameters, wire_parameters
from rdsssl_reconcile.spec.loader import load_specs

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC)
ACLS = [None, "cert", "prefer", "verify-ca", "verify-full"]


def crl_for(ca: CertificateAuthority) -> str:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(NOW - timedelta(days=1))
        .next_update(NOW + timedelta(days=30))
    )
    return crl_to_pem(builder.sign(ca.private_key, hashes.SHA256()))


class World:
    """Certificates shared by every example (generated once, at run time)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        server_ca = CertificateAuthority.create("property server CA", now=NOW)
        self.client_cas = [CertificateAuthority.create(f"property client CA {i}", now=NOW) for i in range(2)]
        self.files: dict[str, str] = {}
        self.pems: dict[str, str] = {}
        for i, ca in enumerate(self.client_cas):
            self._write(f"client-ca-{i}.crt", ca.cert_pem())
            self._write(f"client-ca-{i}.crl", crl_for(ca))
        self.server_ca = server_ca

    def _write(self, name: str, text: str) -> str:
        path = self.directory / name
        path.write_text(text)
        self.files[name] = str(path)
        self.pems[name] = text
        return str(path)

    def server_files(self, instance_id: str, endpoints: tuple[str, ...], index: int) -> tuple[str, str]:
        issued = self.server_ca.issue_server_certificate(list(endpoints), now=NOW, days=365)
        cert = self._write(f"{instance_id}-{index}.crt", issued.cert_pem())
        key = self._write(f"{instance_id}-{index}.key", issued.key_pem())
        return cert, key


ssl_states = st.fixed_dictionaries(
    {
        "enabled": st.booleans(),
        "source": st.sampled_from(["aliyun", "custom"]),
        "endpoints": st.sampled_from(["private", "public", "both"]),
        "cert_index": st.integers(0, 1),
        "client_ca": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "index": st.integers(0, 1),
                    "crl": st.booleans(),
                    "acl": st.sampled_from(ACLS),
                    "replication_acl": st.sampled_from(ACLS),
                }
            ),
        ),
    }
)


def endpoints_for(instance_id: str, choice: str, source: str) -> tuple[str, ...]:
    private, public = f"{instance_id}.pg.rds.aliyuncs.com", f"{instance_id}o.pg.rds.aliyuncs.com"
    if source == "aliyun" and choice == "both":
        choice = "private"
    return {"private": (private,), "public": (public,), "both": (private, public)}[choice]


def spec_text(world: World, instance_id: str, state: dict[str, Any]) -> str:
    if not state["enabled"]:
        return f"instances:\n  - {{id: {instance_id}, region: cn-hangzhou, ssl: {{enabled: false}}}}\n"
    endpoints = endpoints_for(instance_id, state["endpoints"], state["source"])
    if state["source"] == "aliyun":
        certificate = "{source: aliyun}"
    else:
        cert, key = world.server_files(instance_id, endpoints, state["cert_index"])
        certificate = f"{{source: custom, cert: {{file: {cert}}}, key: {{file: {key}}}}}"
    client = ""
    if state["client_ca"] is not None:
        ca = state["client_ca"]
        index = ca["index"]
        parts = [f"cert: {{file: {world.files[f'client-ca-{index}.crt']}}}"]
        if ca["crl"]:
            parts.append(f"crl: {{file: {world.files[f'client-ca-{index}.crl']}}}")
        if ca["acl"]:
            parts.append(f"acl: {ca['acl']}")
        if ca["replication_acl"]:
            parts.append(f"replication_acl: {ca['replication_acl']}")
        client = f"\n      client_ca: {{{', '.join(parts)}}}"
    return (
        textwrap.dedent(
            f"""\
        instances:
          - id: {instance_id}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{", ".join(endpoints)}]
              certificate: {certificate}"""
        )
        + client
        + "\n"
    )


@pytest.fixture(scope="module")
def shared_emulator() -> Any:
    with run_emulator(restart_seconds=0.0) as running:
        yield running


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("property"))


COUNTER = itertools.count()


def assert_minimal(item: Any, *, enabled: bool) -> None:
    """Only the groups the planned changes need: never CAType (a cloud re-issue) without a server change."""
    names = [p.name for p in item.request.parameters]
    assert names[:2] == ["DBInstanceId", "ConnectionString"]
    if not enabled:
        assert names == ["DBInstanceId", "ConnectionString", "SSLEnabled"]
        return
    server_change = any(c.field in SERVER_FIELDS for c in item.changes)
    assert ("CAType" in names) is server_change, (names, [c.field for c in item.changes])
    assert ("ACL" in names) is any(c.field == "ssl.client_ca.acl" for c in item.changes)
    assert ("ReplicationACL" in names) is any(c.field == "ssl.client_ca.replication_acl" for c in item.changes)
    assert ("ClientCrlEnabled" in names) is any(c.field == "ssl.client_ca.crl" for c in item.changes)
    assert ("ClientCAEnabled" in names) is any(c.field == "ssl.client_ca" for c in item.changes)


def converge(
    emulator: RunningEmulator, world: World, instance_id: str, state: dict[str, Any]
) -> tuple[PlanStatus, Any]:
    spec = world.directory / f"{instance_id}.yaml"
    spec.write_text(spec_text(world, instance_id, state))
    (desired,) = load_specs([spec], now=NOW).instances
    target = Target(
        kind="emulator",
        endpoint=emulator.endpoint,
        source="test",
        credentials=Credentials(emulator.access_key_id, emulator.access_key_secret),
    )
    ref = InstanceRef(instance_id=instance_id, region="cn-hangzhou")
    with connect(target) as connection:
        live = read_one(connection.client, ref, can_carry_ssl)
        item = plan_instance(desired, live, now=NOW)
        if item.status is PlanStatus.CHANGE:
            assert_minimal(item, enabled=bool(state["enabled"]))
            connection.client.modify_ssl(
                "cn-hangzhou", wire_parameters(build_parameters(desired, live, item.changes), None)
            )
            emulator.admin.advance_clock(1)
        again = plan_instance(desired, read_one(connection.client, ref, can_carry_ssl), now=NOW)
    return again.status, again


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(start=ssl_states, desired=ssl_states)
def test_applying_the_planned_request_leaves_nothing_to_plan(
    shared_emulator: RunningEmulator, world: World, start: dict[str, Any], desired: dict[str, Any]
) -> None:
    instance_id = f"pgm-prop{next(COUNTER)}"
    shared_emulator.admin.add_instances(
        [
            {
                "id": instance_id,
                "region": "cn-hangzhou",
                "endpoints": [
                    {"host": f"{instance_id}.pg.rds.aliyuncs.com", "type": "Private", "port": 5432},
                    {"host": f"{instance_id}o.pg.rds.aliyuncs.com", "type": "Public", "port": 5432},
                ],
            }
        ]
    )
    status, _ = converge(shared_emulator, world, instance_id, start)
    assert status is PlanStatus.IN_SYNC
    status, item = converge(shared_emulator, world, instance_id, desired)
    assert status is PlanStatus.IN_SYNC, item.to_json()

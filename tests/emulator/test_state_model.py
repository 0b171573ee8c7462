"""Time, concurrency, scale and the call log: the emulator behaves like a shared, slow, ageing cloud."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_rds20140815 import models as rds
from alibabacloud_tea_openapi.exceptions import ClientException

from rdsssl_reconcile.emulator import run_emulator

from .helpers import REGION, describe_ssl, entry, modify_ssl

pytestmark = pytest.mark.e2e


def test_clock_advance_ages_certificates_and_require_update(emulator, client):
    emulator.admin.add_instances([entry("pgm-age", ssl={"enabled": True})])
    body = describe_ssl(client, "pgm-age")
    expires = datetime.fromisoformat(body.sslexpire_time)
    assert body.require_update == "0"
    assert body.require_update_item == ""

    emulator.admin.set_clock(expires - timedelta(days=31))
    assert describe_ssl(client, "pgm-age").require_update == "0"
    emulator.admin.advance_clock(2 * 86400)
    soon = describe_ssl(client, "pgm-age")
    assert soon.require_update == "1"
    assert soon.require_update_item == "ServerCert"
    assert "within 30 days" in soon.require_update_reason
    assert emulator.admin.instance("pgm-age")["require_update"] is True

    emulator.admin.set_clock(expires + timedelta(seconds=1))
    expired = describe_ssl(client, "pgm-age")
    assert expired.require_update == "1"
    assert "expired" in expired.require_update_reason

    # Renewing under the aged clock issues a certificate valid 365 days from *business* time.
    modify_ssl(client, "pgm-age", sslenabled=1, catype="aliyun")
    emulator.admin.advance_clock(1)
    renewed = describe_ssl(client, "pgm-age")
    assert renewed.require_update == "0"
    new_expiry = datetime.fromisoformat(renewed.sslexpire_time)
    assert timedelta(days=364) < new_expiry - emulator.admin.now() < timedelta(days=366)


def test_require_update_days_is_configurable(emulator, client):
    emulator.admin.add_instances([entry("pgm-days", ssl={"enabled": True})])
    emulator.admin.advance_clock(300 * 86400)
    assert describe_ssl(client, "pgm-days").require_update == "0"
    emulator.admin.settings(require_update_days=90)
    assert describe_ssl(client, "pgm-days").require_update == "1"


def test_fleet_can_seed_an_aged_cloud_certificate(emulator, client):
    expires = (datetime.now(UTC) + timedelta(days=10)).replace(microsecond=0)
    emulator.admin.add_instances([entry("pgm-old", ssl={"enabled": True, "expires_at": expires.isoformat()})])
    body = describe_ssl(client, "pgm-old")
    assert datetime.fromisoformat(body.sslexpire_time) == expires
    assert body.require_update == "1"
    from rdsssl_reconcile.pki.pem import load_certificate

    assert load_certificate(body.server_cert).not_valid_after_utc == expires


def test_clock_advance_completes_a_busy_modify(emulator, client):
    emulator.admin.settings(restart_seconds=180)
    emulator.admin.add_instances([entry("pgm-slow")])
    modify_ssl(client, "pgm-slow", sslenabled=1, catype="aliyun")
    emulator.admin.advance_clock(179)
    assert describe_ssl(client, "pgm-slow").last_modify_status == "setting"
    emulator.admin.advance_clock(2)
    body = describe_ssl(client, "pgm-slow")
    assert (body.sslenabled, body.last_modify_status) == ("on", "success")
    (modification,) = emulator.admin.modifications()
    assert modification["finished_at"] == modification["busy_until"]


def test_real_time_completes_a_modify(emulator, client):
    emulator.admin.add_instances([entry("pgm-rt")])
    emulator.admin.settings(restart_seconds=0.6)
    modify_ssl(client, "pgm-rt", sslenabled=1, catype="aliyun")
    assert describe_ssl(client, "pgm-rt").last_modify_status == "setting"
    time.sleep(0.7)
    assert describe_ssl(client, "pgm-rt").last_modify_status == "success"


@pytest.mark.parametrize("round_", range(5))
def test_two_concurrent_modifies_exactly_one_accepted(emulator, round_):
    emulator.admin.add_instances([entry("pgm-race")])
    emulator.admin.settings(restart_seconds=60)  # the loser must find it busy however late it runs
    clients = [emulator.sdk_client(), emulator.sdk_client(sts=True)]
    for c in clients:  # open the connections first so both requests start together
        describe_ssl(c, "pgm-race")
    barrier = threading.Barrier(2)
    results: list[str] = []
    lock = threading.Lock()

    def attempt(c) -> None:
        barrier.wait()
        try:
            modify_ssl(c, "pgm-race", sslenabled=1, catype="aliyun")
            outcome = "accepted"
        except ClientException as exc:
            outcome = f"{exc.code}/{exc.status_code}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["IncorrectDBSslStatus/400", "accepted"]
    assert len(emulator.admin.modifications()) == 1


def test_max_instances_busy_at_once_from_modifications(emulator, client):
    emulator.admin.add_instances([entry(f"pgm-b{n}") for n in range(3)])
    emulator.admin.settings(restart_seconds=100)
    modify_ssl(client, "pgm-b0", sslenabled=1)
    emulator.admin.advance_clock(50)
    modify_ssl(client, "pgm-b1", sslenabled=1)
    emulator.admin.advance_clock(60)  # b0 done at 100, b1 busy until 150
    modify_ssl(client, "pgm-b2", sslenabled=1)
    emulator.admin.advance_clock(200)
    intervals = [(m["accepted_at"], m["busy_until"]) for m in emulator.admin.modifications()]
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    busy = peak = 0
    for _, delta in events:
        busy += delta
        peak = max(peak, busy)
    assert peak == 2


BIG_FLEET = 10_000


def test_ten_thousand_instances():
    client_count = BIG_FLEET
    fleet = {"instances": [entry(f"pgm-k{n:05d}") for n in range(client_count)]}
    with run_emulator(fleet) as emu:
        client = emu.sdk_client()
        seen, token, started = 0, None, time.perf_counter()
        while True:
            body = client.describe_dbinstances(
                rds.DescribeDBInstancesRequest(region_id=REGION, max_results=100, next_token=token)
            ).body
            seen += len(body.items.dbinstance)
            token = body.next_token
            if not token:
                break
        paging = time.perf_counter() - started
        assert seen == client_count
        last = client.describe_dbinstances(
            rds.DescribeDBInstancesRequest(region_id=REGION, page_size=100, page_number=100)
        ).body
        assert last.total_record_count == client_count
        assert last.items.dbinstance[-1].dbinstance_id == "pgm-k09999"
        started = time.perf_counter()
        for n in range(0, client_count, 50):
            assert describe_ssl(client, f"pgm-k{n:05d}").sslenabled == "off"
        per_call = (time.perf_counter() - started) / (client_count / 50)
        # Generous bounds: these catch an O(n) scan per call, not machine speed.
        assert per_call < 0.05
        assert paging < 30


def test_call_log_records_every_request_without_secrets(emulator, client, pki):
    emulator.admin.add_instances([entry("pgm-log")])
    issued = pki.server("pgm-log.pg.rds.aliyuncs.com")
    describe_ssl(client, "pgm-log")
    modify_ssl(
        client, "pgm-log", sslenabled=1, catype="custom", server_cert=issued.cert_pem(), server_key=issued.key_pem()
    )
    with pytest.raises(ClientException):
        describe_ssl(client, "pgm-missing")
    client.describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION, page_size=5))
    calls = emulator.admin.calls()
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    assert [(c["action"], c["instance_id"], c["outcome"], c["http_status"]) for c in calls] == [
        ("DescribeDBInstanceSSL", "pgm-log", "ok", 200),
        ("ModifyDBInstanceSSL", "pgm-log", "ok", 200),
        ("DescribeDBInstanceSSL", "pgm-missing", "InvalidDBInstanceId.NotFound", 404),
        ("DescribeDBInstances", None, "ok", 200),
    ]
    modify = calls[1]
    assert modify["access_key_id"] == emulator.access_key_id
    assert modify["request_id"] == emulator.admin.modifications()[0]["request_id"]
    assert "ServerKey" in modify["param_names"]
    assert "ServerKey" not in modify["params"]
    assert modify["params"]["ServerCert"].startswith("sha256:")
    assert modify["params"]["SSLEnabled"] == "1"
    assert modify["duration_ms"] >= 0
    assert calls[3]["region_id"] == REGION
    assert datetime.fromisoformat(modify["emulated_time"]) <= emulator.admin.now()
    assert len(emulator.admin.calls(action="ModifyDBInstanceSSL")) == 1
    assert len(emulator.admin.calls(instance_id="pgm-log")) == 2
    emulator.admin.clear_calls()
    assert emulator.admin.calls() == []


def test_reset_restores_the_start(emulator, client):
    emulator.admin.add_instances([entry("pgm-tmp")])
    emulator.admin.advance_clock(1000)
    emulator.admin.settings(restart_seconds=99)
    emulator.admin.add_fault(kind="error")
    emulator.admin.reset()
    assert emulator.admin.health()["instances"] == 0
    assert abs((emulator.admin.now() - datetime.now(UTC)).total_seconds()) < 5
    assert emulator.admin.settings()["restart_seconds"] == 0.2
    assert emulator.admin.faults() == []
    assert emulator.admin.calls() == []
    emulator.admin.reset({"instances": [entry("pgm-new")]})
    assert describe_ssl(client, "pgm-new").sslenabled == "off"


def test_set_instance_behind_the_back(emulator, client):
    emulator.admin.add_instances([entry("pgm-edit")])
    state = emulator.admin.set_instance("pgm-edit", engine_version="11.0", status="Rebooting")
    assert (state["engine_version"], state["status"]) == ("11.0", "Rebooting")
    assert emulator.admin.modifications() == []
    state = emulator.admin.set_instance("pgm-edit", ssl={"enabled": True, "ca_type": "aliyun"}, status="Running")
    assert state["ssl"]["enabled"] is True
    assert describe_ssl(client, "pgm-edit").sslenabled == "on"


def test_cloud_certificates_renew_on_their_own_when_the_setting_says_so(emulator, client):
    """``cloud_cert_auto_renew_days``: Alibaba Cloud's own renewal ("Configure SSL encryption for an ApsaraDB
    RDS for PostgreSQL instance"), at the scheduled moment of business time, once per period skipped."""
    from rdsssl_reconcile.pki.pem import load_certificate

    emulator.admin.add_instances([entry("pgm-renew", ssl={"enabled": True})])
    first = describe_ssl(client, "pgm-renew")
    expires = datetime.fromisoformat(first.sslexpire_time)
    emulator.admin.set_clock(expires - timedelta(days=3))
    assert describe_ssl(client, "pgm-renew").server_cert == first.server_cert  # off by default
    emulator.admin.settings(cloud_cert_auto_renew_days=7)
    renewed = describe_ssl(client, "pgm-renew")
    assert renewed.server_cert != first.server_cert
    assert renewed.server_key != first.server_key
    assert renewed.require_update == "0"
    assert renewed.connection_string == first.connection_string
    assert renewed.catype == "aliyun"
    # Issued when it was due (7 days before the old expiry), not when it was read.
    assert load_certificate(renewed.server_cert).not_valid_after_utc == expires - timedelta(days=7) + timedelta(
        days=365
    )
    assert describe_ssl(client, "pgm-renew").server_cert == renewed.server_cert  # stable between reads
    # Three periods skipped at once: the certificate is the one the last scheduled renewal issued.
    emulator.admin.advance_clock(3 * 358 * 86400)
    later = load_certificate(describe_ssl(client, "pgm-renew").server_cert)
    assert timedelta(days=7) <= later.not_valid_after_utc - emulator.admin.now() <= timedelta(days=365)
    assert emulator.admin.calls(action="ModifyDBInstanceSSL") == []


def test_auto_renew_days_must_leave_a_certificate_some_life():
    from rdsssl_reconcile.emulator.settings import EmulatorSettings

    with pytest.raises(ValueError, match="cloud_cert_auto_renew_days"):
        EmulatorSettings(cloud_cert_auto_renew_days=365)
    with pytest.raises(ValueError, match="cloud_cert_auto_renew_days"):
        EmulatorSettings().updated(cloud_cert_auto_renew_days=-1)
    assert EmulatorSettings().updated(cloud_cert_auto_renew_days=None).cloud_cert_auto_renew_days is None

"""The landing wait's cheap read: status and LastModifyStatus while busy, a full read once it may be over."""

from __future__ import annotations

from rdsssl_reconcile.live.model import ReadOutcome
from rdsssl_reconcile.live.reader import InstanceRef, read_one, read_progress
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from tests.live.fakes import FakeInstance, FakeRds

REF = InstanceRef(instance_id="pgm-a", region="cn-hangzhou")


def test_a_busy_status_costs_two_calls_and_reads_no_endpoints() -> None:
    rds = FakeRds(
        [FakeInstance("pgm-a", status="SSL_MODIFYING", ssl={"SSLEnabled": "off", "LastModifyStatus": "setting"})]
    )
    live = read_progress(rds, REF, can_carry_ssl)
    assert live.outcome is ReadOutcome.FOUND
    assert live.facts is not None
    assert live.facts.status == "SSL_MODIFYING"
    assert live.ssl is not None
    assert live.ssl.last_modify_status == "setting"
    assert live.endpoints is None  # partial, and it shows the instance busy
    assert dict(rds.calls) == {"DescribeDBInstanceAttribute": 1, "DescribeDBInstanceSSL": 1}


def test_running_but_setting_is_still_busy_and_partial() -> None:
    rds = FakeRds([FakeInstance("pgm-a", ssl={"SSLEnabled": "on", "LastModifyStatus": "setting"})])
    live = read_progress(rds, REF, can_carry_ssl)
    assert live.endpoints is None
    assert "DescribeDBInstanceNetInfo" not in rds.calls


def test_once_idle_the_read_is_full_and_equals_the_full_read() -> None:
    instance = FakeInstance("pgm-a", ssl={"SSLEnabled": "on", "LastModifyStatus": "success"})
    rds = FakeRds([instance])
    live = read_progress(rds, REF, can_carry_ssl)
    assert live.endpoints is not None
    assert [e.host for e in live.endpoints] == instance.hosts
    assert rds.calls["DescribeDBInstanceNetInfo"] == 1
    assert "DescribeDBInstances" not in rds.calls
    assert live.fingerprint() == read_one(FakeRds([instance]), REF, can_carry_ssl).fingerprint()


def test_a_missing_instance_is_not_found_from_the_attribute_read() -> None:
    live = read_progress(FakeRds([]), REF, can_carry_ssl)
    assert live.outcome is ReadOutcome.NOT_FOUND
    assert live.error is not None
    assert live.error.action == "DescribeDBInstanceAttribute"

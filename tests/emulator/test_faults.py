"""Fault injection through the SDK: each kind, the rule fields, and determinism under a seed."""

from __future__ import annotations

import time

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException
from darabonba.exceptions import UnretryableException

from rdsssl_reconcile.emulator import AdminError, run_emulator

from .helpers import describe_ssl, entry, expect_error, modify_ssl

pytestmark = pytest.mark.e2e


@pytest.fixture
def seeded(emulator):
    emulator.admin.add_instances([entry("pgm-f1"), entry("pgm-f2")])
    return emulator


def test_latency(seeded, client):
    seeded.admin.add_fault(kind="latency", action="DescribeDBInstanceSSL", latency_ms=150, count=1)
    started = time.perf_counter()
    describe_ssl(client, "pgm-f1")
    assert time.perf_counter() - started >= 0.15
    describe_ssl(client, "pgm-f1")
    slow, fast = seeded.admin.calls(action="DescribeDBInstanceSSL")
    assert (slow["fault"], fast["fault"]) == ("latency", None)
    assert slow["duration_ms"] >= 150
    assert fast["duration_ms"] < 150  # server-side time: no client or scheduling noise


def test_throttling_with_retry_after_raises_throttling_exception(seeded, client):
    seeded.admin.add_fault(kind="throttle", action="DescribeDBInstanceSSL", retry_after_ms=1500, count=1)
    error = expect_error(lambda: describe_ssl(client, "pgm-f1"), "Throttling.User", 400)
    assert isinstance(error, ThrottlingException)
    assert error.retry_after == 1500
    assert "Request was denied due to user flow control." in error.message
    assert describe_ssl(client, "pgm-f1").sslenabled == "off"  # count=1: only the first


def test_throttling_without_retry_after_is_a_client_exception(seeded, client):
    seeded.admin.add_fault(kind="throttle")
    error = expect_error(lambda: describe_ssl(client, "pgm-f1"), "Throttling.User", 400)
    assert type(error) is ClientException


@pytest.mark.parametrize(
    ("rule", "code", "status"),
    [
        ({"kind": "error"}, "ServiceUnavailable", 503),
        ({"kind": "error", "status": 500}, "InternalError", 500),
        ({"kind": "error", "code": "ExternalFailure", "status": 500}, "ExternalFailure", 500),
        ({"kind": "error", "code": "IncorrectDBInstanceState"}, "IncorrectDBInstanceState", 403),
    ],
)
def test_errors(seeded, client, rule, code, status):
    seeded.admin.add_fault(**rule)
    error = expect_error(lambda: describe_ssl(client, "pgm-f1"), code, status)
    assert isinstance(error, ServerException if status >= 500 else ClientException)


def test_dropped_connection(seeded, client):
    seeded.admin.add_fault(kind="drop", action="DescribeDBInstanceSSL", count=1)
    with pytest.raises(UnretryableException):
        describe_ssl(client, "pgm-f1")
    assert describe_ssl(client, "pgm-f1").sslenabled == "off"  # the client reconnects
    first, _ = seeded.admin.calls(action="DescribeDBInstanceSSL")
    assert (first["outcome"], first["http_status"], first["fault"]) == ("ConnectionDropped", None, "drop")


def test_error_after_the_modify_was_carried_out(seeded, client):
    seeded.admin.add_fault(kind="error", phase="after", action="ModifyDBInstanceSSL", count=1)
    expect_error(lambda: modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun"), "ServiceUnavailable", 503)
    seeded.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-f1").sslenabled == "on"  # accepted although the caller saw a 503
    (call,) = seeded.admin.calls(action="ModifyDBInstanceSSL")
    assert call["fault"] == "error-after"


def test_drop_after_the_modify_was_carried_out(seeded, client):
    seeded.admin.add_fault(kind="drop", phase="after", action="ModifyDBInstanceSSL")
    with pytest.raises(UnretryableException):
        modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun")
    assert len(seeded.admin.modifications()) == 1


def test_modify_that_never_finishes(seeded, client):
    seeded.admin.add_fault(kind="hang", instance_id="pgm-f1")
    modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun")
    modify_ssl(client, "pgm-f2", sslenabled=1, catype="aliyun")  # another instance is not affected
    seeded.admin.advance_clock(7 * 86400)
    assert describe_ssl(client, "pgm-f1").last_modify_status == "setting"
    assert seeded.admin.instance("pgm-f1")["status"] == "SSL_MODIFYING"
    assert describe_ssl(client, "pgm-f2").last_modify_status == "success"
    outcomes = {m["instance_id"]: m["outcome"] for m in seeded.admin.modifications()}
    assert outcomes == {"pgm-f1": "pending", "pgm-f2": "success"}
    expect_error(lambda: modify_ssl(client, "pgm-f1", sslenabled=0), "IncorrectDBSslStatus", 400)
    seeded.admin.set_instance("pgm-f1", pending=None)  # the operator's way out
    assert seeded.admin.instance("pgm-f1")["status"] == "SSL_MODIFYING"
    seeded.admin.set_instance("pgm-f1", status="Running", last_modify_status="failed")
    modify_ssl(client, "pgm-f1", sslenabled=0)


def test_modify_that_fails(seeded, client):
    seeded.admin.add_fault(kind="fail", action="ModifyDBInstanceSSL", count=1)
    seeded.admin.settings(restart_seconds=30)
    modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun")
    assert describe_ssl(client, "pgm-f1").last_modify_status == "setting"
    seeded.admin.advance_clock(31)
    body = describe_ssl(client, "pgm-f1")
    assert (body.sslenabled, body.last_modify_status) == ("off", "failed")
    assert seeded.admin.instance("pgm-f1")["status"] == "Running"
    (modification,) = seeded.admin.modifications()
    assert modification["outcome"] == "failed"
    modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun")  # count=1: the retry succeeds
    seeded.admin.advance_clock(31)
    assert describe_ssl(client, "pgm-f1").sslenabled == "on"


def test_modify_that_is_silently_ignored(seeded, client):
    seeded.admin.add_fault(kind="ignore", action="ModifyDBInstanceSSL", count=1)
    seeded.admin.settings(restart_seconds=30)
    modify_ssl(client, "pgm-f1", sslenabled=1, catype="aliyun")
    assert describe_ssl(client, "pgm-f1").last_modify_status == "setting"
    seeded.admin.advance_clock(31)
    body = describe_ssl(client, "pgm-f1")
    # Reports success, is Running again, and yet nothing changed.
    assert (body.sslenabled, body.last_modify_status) == ("off", "success")
    assert seeded.admin.instance("pgm-f1")["status"] == "Running"
    (modification,) = seeded.admin.modifications()
    assert (modification["outcome"], modification["planned_outcome"]) == ("ignored", "ignored")
    assert [c["fault"] for c in seeded.admin.calls() if c["action"] == "ModifyDBInstanceSSL"] == ["ignore"]


def test_refused_modify_does_not_use_up_an_outcome_rule(seeded, client):
    seeded.admin.add_fault(kind="fail", count=1)
    expect_error(lambda: modify_ssl(client, "pgm-f1", sslenabled=7), "InvalidSSLStatus", 400)
    modify_ssl(client, "pgm-f1", sslenabled=1)
    seeded.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-f1").last_modify_status == "failed"


def test_after_and_count(seeded, client):
    seeded.admin.add_fault(kind="error", action="DescribeDBInstanceSSL", after=2, count=2)
    results = []
    for _ in range(6):
        try:
            describe_ssl(client, "pgm-f1")
            results.append("ok")
        except ServerException as exc:
            results.append(exc.code)
    assert results == ["ok", "ok", "ServiceUnavailable", "ServiceUnavailable", "ok", "ok"]
    (rule,) = seeded.admin.faults()
    assert (rule["matched"], rule["hits"]) == (6, 2)


def test_rules_filter_by_action_and_instance(seeded, client):
    seeded.admin.add_fault(kind="error", action="DescribeDBInstanceSSL", instance_id="pgm-f2")
    assert describe_ssl(client, "pgm-f1").sslenabled == "off"
    expect_error(lambda: describe_ssl(client, "pgm-f2"), "ServiceUnavailable", 503)
    seeded.admin.clear_faults()
    assert describe_ssl(client, "pgm-f2").sslenabled == "off"


def _pattern(seed: int, n: int = 40) -> list[str]:
    with run_emulator({"instances": [entry("pgm-seed")]}, seed=seed) as emu:
        emu.admin.add_fault(kind="throttle", probability=0.3)
        emu.admin.add_fault(kind="error", probability=0.2)
        client = emu.sdk_client()
        out = []
        for _ in range(n):
            try:
                describe_ssl(client, "pgm-seed")
                out.append(".")
            except (ClientException, ServerException) as exc:
                out.append("T" if exc.code == "Throttling.User" else "E")
        return out


def test_probabilistic_faults_are_deterministic_under_a_seed():
    first, again, other = _pattern(7), _pattern(7), _pattern(8)
    assert first == again
    assert first != other
    assert {"T", "E", "."} <= set(first)


def test_clear_faults_restarts_the_random_sequence(seeded, client):
    def run() -> list[str]:
        seeded.admin.add_fault(kind="error", probability=0.5)
        out = []
        for _ in range(20):
            try:
                describe_ssl(client, "pgm-f1")
                out.append(".")
            except ServerException:
                out.append("E")
        seeded.admin.clear_faults()
        return out

    assert run() == run()


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "explode"},
        {"kind": "latency"},
        {"kind": "error", "probability": 2},
        {"kind": "throttle", "phase": "after"},
        {"kind": "error", "count": -1},
        {"kind": "error", "colour": "red"},
    ],
)
def test_bad_rules_are_refused(seeded, rule):
    with pytest.raises(AdminError) as caught:
        seeded.admin.add_fault(**rule)
    assert caught.value.status == 400

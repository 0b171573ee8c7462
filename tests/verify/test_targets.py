"""Which endpoints verify connects to and where: spec names, live ports, curl-like --resolve. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.live.model import Endpoint, LiveInstance, ReadError, ReadOutcome
from rdsssl_reconcile.spec.model import AliyunCertificate, DesiredInstance, DesiredSsl, Location, RestartPolicy
from rdsssl_reconcile.verify.targets import Resolve, instance_work, parse_resolve, resolve_map

NAME = "pgm-a.pg.rds.aliyuncs.com"


def desired(*endpoints: str, enabled: bool = True) -> DesiredInstance:
    return DesiredInstance(
        id="pgm-a",
        region="cn-hangzhou",
        description=None,
        ssl=DesiredSsl(
            enabled=enabled,
            endpoints=endpoints,
            certificate=AliyunCertificate() if enabled else None,
            client_ca=None,
        ),
        policy=RestartPolicy(),
        location=Location(Path("spec.yaml"), 1, "instances[0]"),
    )


def live(*endpoints: Endpoint, outcome: ReadOutcome = ReadOutcome.FOUND, read: bool = True) -> LiveInstance:
    return LiveInstance(
        "pgm-a",
        "cn-hangzhou",
        outcome,
        endpoints=endpoints if read else None,
        error=ReadError("DescribeDBInstanceSSL", "Throttling", "slow down") if outcome is ReadOutcome.ERROR else None,
    )


def test_resolve_reads_like_curls() -> None:
    assert parse_resolve(f"{NAME}:5432:127.0.0.1") == Resolve(NAME, 5432, "127.0.0.1")
    assert parse_resolve(f"{NAME.upper()}.:5432:[::1]") == Resolve(NAME, 5432, "::1")


@pytest.mark.parametrize("text", [f"{NAME}:5432", f"{NAME}::127.0.0.1", f"{NAME}:x:127.0.0.1", f"{NAME}:0:127.0.0.1"])
def test_a_malformed_resolve_names_the_option(text: str) -> None:
    with pytest.raises(UserError, match=r"^--resolve "):
        parse_resolve(text)


def test_names_are_the_specs_ports_the_live_ones_and_resolve_maps_only_its_own_port() -> None:
    entries = (
        Endpoint(NAME, "Private", "3433", "Normal"),
        Endpoint("pgm-a-ro.example.com", "Public", "1921", "Normal"),
    )
    mapping = resolve_map([Resolve(NAME, 3433, "127.0.0.1"), Resolve("pgm-a-ro.example.com", 5432, "10.0.0.1")])
    work = instance_work(desired(NAME, "pgm-a-ro.example.com"), live(*entries), mapping)
    assert [(t.name, t.port, t.address, t.resolved_by) for t in work.targets] == [
        (NAME, 3433, "127.0.0.1", "--resolve"),
        ("pgm-a-ro.example.com", 1921, "pgm-a-ro.example.com", None),  # mapped for 5432, not for 1921
    ]
    assert work.source == "aliyun"


def test_a_later_resolve_for_the_same_host_and_port_wins() -> None:
    assert resolve_map([Resolve(NAME, 1, "10.0.0.1"), Resolve(NAME, 1, "10.0.0.2")]) == {(NAME, 1): "10.0.0.2"}


def test_a_declared_name_the_instance_lacks_is_that_endpoints_error() -> None:
    work = instance_work(desired(NAME), live(Endpoint("other.example.com", "Private", "5432", "Normal")), {})
    assert work.targets == ()
    (missing,) = work.unmatched
    assert missing.status == "error"
    assert missing.findings[0].message == (
        f"{NAME} is not one of its endpoints (DescribeDBInstanceNetInfo: other.example.com:5432)"
    )


def test_ssl_declared_off_checks_every_live_endpoint_but_read_write_splitting() -> None:
    entries = (
        Endpoint(NAME, "Private", "5432", "Normal"),
        Endpoint("pgm-a-rw.example.com", "Private", "5432", "ReadWriteSplitting"),
    )
    work = instance_work(desired(enabled=False), live(*entries), {})
    assert [t.name for t in work.targets] == [NAME]
    assert work.expectation.ssl is False


def test_not_found_unreadable_and_ineligible_instances_are_instance_problems() -> None:
    assert instance_work(desired(NAME), None, {}).problem is not None
    not_found = instance_work(desired(NAME), live(outcome=ReadOutcome.NOT_FOUND), {})
    assert not_found.problem is not None
    assert not_found.problem.code == "not_found"
    unread = instance_work(desired(NAME), live(outcome=ReadOutcome.ERROR), {})
    assert unread.problem is not None
    assert "DescribeDBInstanceSSL: Throttling: slow down" in unread.problem.message
    cannot = instance_work(desired(NAME), live(read=False), {})
    assert cannot.problem is not None
    assert cannot.problem.code == "cannot_carry_ssl"
    declared_off = instance_work(desired(enabled=False), live(read=False), {})
    assert (declared_off.problem, declared_off.targets) == (None, ())

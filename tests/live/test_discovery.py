"""The reader under every reading of a list of ids: never a false not_found, at most 2 calls per instance plus pages."""

from __future__ import annotations

import pytest

from rdsssl_reconcile.cloud.port import ReadOnlyView
from rdsssl_reconcile.errors import TransientCloudError
from rdsssl_reconcile.live.discovery import SINGLE_READS, MultiIdReading, discover_region
from rdsssl_reconcile.live.model import ReadOutcome
from rdsssl_reconcile.live.reader import InstanceRef, read_fleet, read_one
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from tests.live.fakes import READINGS, FakeInstance, FakeRds

EXPECTED = {
    "list": MultiIdReading.ACCEPTED,
    "first": MultiIdReading.FIRST_ONLY,
    "ignored": MultiIdReading.IGNORED,
    "literal": MultiIdReading.LITERAL,
    "error": MultiIdReading.REFUSED,
    "subset": MultiIdReading.SUBSET,
}


def fleet(declared: int, *, others: int = 40) -> tuple[list[FakeInstance], list[InstanceRef], set[str]]:
    """``declared`` instances in the specs (one MySQL, one read-only) plus two ids that do not exist."""
    instances = [FakeInstance(f"pgm-d{i:04d}") for i in range(declared)]
    instances[-1].engine = "MySQL"
    if declared > 2:
        instances[1].instance_type = "Readonly"
    instances += [FakeInstance(f"pgm-other{i:03d}") for i in range(others)]
    instances.append(FakeInstance("pgm-elsewhere", region="cn-beijing"))
    missing = {"pgm-gone-1", "pgm-gone-2"}
    ids = [f"pgm-d{i:04d}" for i in range(declared)]
    ids[1:1] = sorted(missing)  # missing ids inside the first batch, after an existing first id
    return instances, [InstanceRef(i, "cn-hangzhou") for i in ids], missing


@pytest.mark.parametrize("reading", READINGS)
@pytest.mark.parametrize("declared", [3, SINGLE_READS + 3, 250, 1000])
def test_every_reading_reads_every_instance_right_within_two_calls_each_plus_pages(reading: str, declared: int) -> None:
    instances, refs, missing = fleet(declared)
    cloud = FakeRds(instances, reading)
    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=4)

    outcomes = {i: live.outcome for i, live in result.instances.items()}
    assert {i for i, o in outcomes.items() if o is ReadOutcome.NOT_FOUND} == missing
    assert all(o is ReadOutcome.FOUND for i, o in outcomes.items() if i not in missing), outcomes
    mysql = result.instances[f"pgm-d{declared - 1:04d}"]
    assert mysql.facts is not None
    assert mysql.facts.engine == "MySQL"
    assert mysql.ssl is None
    if declared > 2:
        replica = result.instances["pgm-d0001"]
        assert replica.facts is not None
        assert replica.facts.instance_type == "Readonly"
        assert replica.ssl is not None  # read-only instances are read like primaries

    # not_found only ever from DescribeDBInstanceAttribute, asked for that one id.
    attribute_ids = {p["id"] for action, p in cloud.log if action == "DescribeDBInstanceAttribute"}
    assert missing <= attribute_ids
    assert "ModifyDBInstanceSSL" not in cloud.calls

    pages = cloud.calls["DescribeDBInstances"]
    per_instance = (sum(cloud.calls.values()) - pages) / len(refs)
    assert per_instance <= 2, cloud.calls
    assert pages <= -(-len(refs) // 100) + -(-(declared + 42) // 100) + SINGLE_READS + 1, cloud.calls

    (observation,) = result.observations
    expected = EXPECTED[reading]
    if reading == "subset" and len(refs[:100]) <= cloud.limit:
        expected = MultiIdReading.ACCEPTED  # every id fits under the limit: indistinguishable, and right
    assert observation.reading is expected, observation
    assert (observation.note() is None) == (expected is MultiIdReading.ACCEPTED)


def test_notes_name_the_reading_and_what_was_done_instead() -> None:
    instances, refs, _ = fleet(250)
    result = read_fleet(FakeRds(instances, "ignored"), refs, wants_ssl=can_carry_ssl)
    (note,) = result.notes()
    assert note.startswith("DescribeDBInstances ignored the id list in cn-hangzhou; listed the region's")
    result = read_fleet(FakeRds(instances, "error"), refs, wants_ssl=can_carry_ssl)
    assert "refused a list of ids (InvalidDBInstanceId.Malformed)" in result.notes()[0]


@pytest.mark.parametrize("reading", READINGS)
def test_read_one_under_every_reading(reading: str) -> None:
    instances, _, _ = fleet(5)
    cloud = FakeRds(instances, reading)
    live = read_one(cloud, InstanceRef("pgm-d0002", "cn-hangzhou"), can_carry_ssl)
    assert live.outcome is ReadOutcome.FOUND
    assert read_one(cloud, InstanceRef("pgm-gone", "cn-hangzhou"), can_carry_ssl).outcome is ReadOutcome.NOT_FOUND
    # The instance in another region is not found from this region, and the region is never listed for one id.
    assert read_one(cloud, InstanceRef("pgm-elsewhere", "cn-hangzhou"), can_carry_ssl).outcome is ReadOutcome.NOT_FOUND
    assert not [p for a, p in cloud.log if a == "DescribeDBInstances" and p["engine"]]


def test_ids_the_api_leaves_out_are_found_in_an_ignored_answer_only_when_asked_for() -> None:
    """Items nobody asked for are never taken as the facts of a declared instance."""
    instances = [FakeInstance("pgm-a"), FakeInstance("pgm-b"), FakeInstance("pgm-c")]
    cloud = FakeRds(instances, "ignored")
    found = discover_region(cloud, "cn-hangzhou", ["pgm-a", "pgm-x"]).found
    assert set(found) == {"pgm-a"}


def test_found_but_unreadable_is_an_error_never_not_found() -> None:
    instances = [FakeInstance("pgm-a"), FakeInstance("pgm-b")]
    cloud = FakeRds(instances)

    def creating(region_id: str, instance_id: str) -> dict[str, object]:
        from tests.live.fakes import not_found

        raise not_found("DescribeDBInstanceSSL", instance_id)

    cloud.describe_ssl = creating  # type: ignore[method-assign]
    live = read_fleet(cloud, [InstanceRef("pgm-a", "cn-hangzhou")], wants_ssl=can_carry_ssl).instances["pgm-a"]
    assert live.outcome is ReadOutcome.ERROR
    assert live.error is not None
    assert live.error.code == "InvalidDBInstanceId.NotFound"


def test_a_failed_list_page_makes_the_unsettled_ids_errors_not_not_found() -> None:
    instances, refs, missing = fleet(250)
    cloud = FakeRds(instances, "literal")
    real = cloud.describe_instances_page

    def flaky(region_id: str, **kwargs: object) -> dict[str, object]:
        if kwargs.get("page_number") == 2:
            raise TransientCloudError("busy", code="Throttling.User", action="DescribeDBInstances")
        return real(region_id, **kwargs)  # type: ignore[arg-type]

    cloud.describe_instances_page = flaky  # type: ignore[method-assign]
    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl)
    outcomes = {i: live.outcome for i, live in result.instances.items()}
    assert ReadOutcome.NOT_FOUND not in outcomes.values()
    assert set(outcomes.values()) == {ReadOutcome.FOUND, ReadOutcome.ERROR}
    assert all(outcomes[i] is ReadOutcome.ERROR for i in missing)


def test_the_read_only_view_cannot_reach_modify() -> None:
    cloud = FakeRds([FakeInstance("pgm-a")])
    view = ReadOnlyView(cloud)
    assert not hasattr(view, "modify_ssl")
    assert view.describe_ssl("cn-hangzhou", "pgm-a")["SSLEnabled"] == "off"
    with pytest.raises(AttributeError):
        view.client = cloud  # type: ignore[attr-defined]

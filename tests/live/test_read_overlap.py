"""A fleet read starts an instance's SSL reads as soon as a list answer found it, within --parallelism."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from rdsssl_reconcile.errors import PermanentCloudError, TransientCloudError
from rdsssl_reconcile.live.discovery import BATCH, discover_region, run_inline
from rdsssl_reconcile.live.model import ReadOutcome
from rdsssl_reconcile.live.reader import InstanceRef, read_fleet
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from tests.live.fakes import READINGS, FakeInstance, FakeRds


class Gated(FakeRds):
    """Holds the second list batch until an instance of the first batch has been asked for its SSL state."""

    def __init__(self, instances: Sequence[FakeInstance], first_batch: set[str]) -> None:
        super().__init__(instances, "list")
        self.first_batch = first_batch
        self.ssl_of_first_batch = threading.Event()
        self.overlapped: bool | None = None

    def describe_instances_page(self, region_id: str, **kwargs: Any) -> dict[str, Any]:
        ids = tuple(kwargs.get("instance_ids", ()))
        if ids and ids[0] not in self.first_batch and self.overlapped is None:
            self.overlapped = self.ssl_of_first_batch.wait(timeout=5)
        return super().describe_instances_page(region_id, **kwargs)

    def describe_ssl(self, region_id: str, instance_id: str) -> dict[str, Any]:
        if instance_id in self.first_batch:
            self.ssl_of_first_batch.set()
        return super().describe_ssl(region_id, instance_id)


class Metered(FakeRds):
    """Counts calls in flight (each takes a little while) and can fail chosen calls."""

    def __init__(self, instances: Sequence[FakeInstance], reading: str = "list", *, seed: int = 0) -> None:
        super().__init__(instances, reading)
        self.in_flight = 0
        self.most_in_flight = 0
        self.failing_ssl: set[str] = set()
        self.failing_batches = 0  # the next this-many batched calls after the first fail (transiently)
        self._meter = threading.Lock()
        self._random = random.Random(seed)
        self._batches = 0

    def _timed(self) -> None:
        with self._meter:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            delay = self._random.uniform(0.0005, 0.003)
        time.sleep(delay)
        with self._meter:
            self.in_flight -= 1

    def describe_instances_page(self, region_id: str, **kwargs: Any) -> dict[str, Any]:
        self._timed()
        if len(kwargs.get("instance_ids", ())) > 1:
            with self._meter:
                self._batches += 1
                fail = 1 < self._batches <= 1 + self.failing_batches
            if fail:
                raise TransientCloudError("busy", code="ServiceUnavailable", action="DescribeDBInstances", status=503)
        return super().describe_instances_page(region_id, **kwargs)

    def describe_instance(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._timed()
        return super().describe_instance(region_id, instance_id)

    def describe_ssl(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._timed()
        body = super().describe_ssl(region_id, instance_id)  # recorded, failing or not
        if instance_id in self.failing_ssl:
            raise PermanentCloudError("denied", code="Forbidden.RAM", action="DescribeDBInstanceSSL", status=403)
        return body

    def describe_net_info(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._timed()
        return super().describe_net_info(region_id, instance_id)


REGIONS = ("cn-hangzhou", "cn-beijing", "cn-shanghai")


def spread(count: int) -> tuple[list[FakeInstance], list[InstanceRef]]:
    """``count`` instances over three regions, declared interleaved (not grouped by region)."""
    instances = [FakeInstance(f"pgm-o{i:04d}", region=REGIONS[i % 3]) for i in range(count)]
    refs = [InstanceRef(i.id, i.region) for i in instances]
    random.Random(7).shuffle(refs)
    return instances, refs


def test_ssl_reads_of_the_first_batch_start_before_the_other_batches_are_answered() -> None:
    instances = [FakeInstance(f"pgm-g{i:04d}") for i in range(2 * BATCH + 50)]
    first_batch = {i.id for i in instances[:BATCH]}
    cloud = Gated(instances, first_batch)
    refs = [InstanceRef(i.id, i.region) for i in instances]

    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=4)

    assert cloud.overlapped is True  # a first-batch SSL read ran while the second batch was held
    assert all(live.outcome is ReadOutcome.FOUND for live in result.instances.values())
    assert cloud.calls["DescribeDBInstances"] == 3


@pytest.mark.parametrize("parallelism", [1, 3, 8])
@pytest.mark.parametrize("reading", ["list", "ignored", "first"])
def test_calls_in_flight_never_exceed_parallelism_across_regions(reading: str, parallelism: int) -> None:
    instances, refs = spread(330)
    cloud = Metered(instances, reading)

    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=parallelism)

    assert cloud.most_in_flight <= parallelism
    assert cloud.most_in_flight == parallelism  # the pool is used to the full (so the bound above is tested)
    assert all(live.outcome is ReadOutcome.FOUND for live in result.instances.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_results_come_in_declared_order_whatever_order_the_answers_arrive_in(seed: int) -> None:
    instances, refs = spread(260)
    refs.insert(5, InstanceRef("pgm-gone", "cn-beijing"))
    cloud = Metered(instances, seed=seed)

    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=6)

    assert list(result.instances) == [r.instance_id for r in refs]
    assert result.instances["pgm-gone"].outcome is ReadOutcome.NOT_FOUND
    for ref in refs:
        assert result.instances[ref.instance_id].region == ref.region


def test_a_failed_ssl_read_marks_only_its_instance_and_a_failed_batch_is_read_again() -> None:
    instances, refs = spread(330)
    cloud = Metered(instances)
    cloud.failing_ssl = {"pgm-o0004", "pgm-o0200"}
    cloud.failing_batches = 1  # a batch after a region's first fails: its ids must not become not_found

    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=4)

    for instance_id, live in result.instances.items():
        if instance_id in cloud.failing_ssl:
            assert live.outcome is ReadOutcome.ERROR
            assert live.error is not None
            assert live.error.code == "Forbidden.RAM"
            assert live.facts is not None  # found: the SSL read failed, not the lookup
        else:
            assert live.outcome is ReadOutcome.FOUND, instance_id
    assert cloud.calls["DescribeDBInstanceSSL"] == 330


@pytest.mark.parametrize("reading", READINGS)
def test_on_found_hands_on_each_found_entry_once_and_only_found_ones(reading: str) -> None:
    instances = [FakeInstance(f"pgm-f{i:04d}") for i in range(230)]
    instances[3].engine = "MySQL"
    ids = [i.id for i in instances] + ["pgm-gone-1", "pgm-gone-2"]
    handed: list[tuple[str, str]] = []

    discovery = discover_region(
        FakeRds(instances, reading),
        "cn-hangzhou",
        ids,
        submit=run_inline,
        on_found=lambda instance_id, item: handed.append((instance_id, str(item["DBInstanceId"]))),
    )

    assert sorted(i for i, _ in handed) == sorted(discovery.found)
    assert len(handed) == len(set(handed))
    assert all(instance_id == entry_id for instance_id, entry_id in handed)
    assert discovery.missing == {"pgm-gone-1", "pgm-gone-2"}


@pytest.mark.parametrize("reading", READINGS)
def test_on_read_sees_every_result_once_while_other_reads_are_still_in_flight(reading: str) -> None:
    """plan runs the planner in ``on_read``: every instance exactly once, unread ones (missing) included."""
    present = [FakeInstance(f"pgm-r{i:04d}") for i in range(150)]
    cloud = Metered(present, reading)
    refs = [InstanceRef(i.id, i.region) for i in present] + [InstanceRef("pgm-gone", "cn-hangzhou")]
    seen: list[str] = []
    in_flight_when_seen: list[int] = []
    lock = threading.Lock()

    def on_read(live: Any) -> None:
        with lock:
            seen.append(live.instance_id)
            in_flight_when_seen.append(cloud.in_flight)

    result = read_fleet(cloud, refs, wants_ssl=can_carry_ssl, parallelism=8, on_read=on_read)
    assert sorted(seen) == sorted(ref.instance_id for ref in refs)
    assert result.instances["pgm-gone"].outcome is ReadOutcome.NOT_FOUND
    # Handed on as each read completed, not after the last one: most saw other calls still running.
    assert sum(1 for n in in_flight_when_seen if n > 0) > len(present) // 2

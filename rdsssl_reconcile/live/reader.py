"""Read the live state of exactly the instances in the specs, in parallel, one failure at a time.

Calls per run: one DescribeDBInstances page per region per 100 instances (it accepts a list of ids),
then DescribeDBInstanceSSL and DescribeDBInstanceNetInfo per instance that can carry SSL at all: two
calls per instance plus list pages. Instances that cannot carry SSL (another engine, PostgreSQL < 10,
local disks, Serverless) are not asked for their SSL state; the API would only refuse.

Errors are data: a failed call marks its instance ``error`` and the others carry on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from rdsssl_reconcile.cloud.port import NOT_FOUND_CODES, CloudClient
from rdsssl_reconcile.errors import CloudError
from rdsssl_reconcile.live.model import InstanceFacts, LiveInstance, ReadError, ReadOutcome
from rdsssl_reconcile.live.parse import parse_instance, parse_net_info, parse_ssl

LIST_CHUNK = 100


@dataclass(frozen=True, slots=True)
class InstanceRef:
    instance_id: str
    region: str


def _error(exc: CloudError) -> ReadError:
    return ReadError(action=exc.action, code=exc.code, message=exc.message, request_id=exc.request_id)


def read_instance(client: CloudClient, facts: InstanceFacts, wants_ssl: bool) -> LiveInstance:
    """SSL and endpoints of one instance whose facts are known."""
    if not wants_ssl:
        return LiveInstance(instance_id=facts.id, region=facts.region, outcome=ReadOutcome.FOUND, facts=facts)
    try:
        ssl = parse_ssl(client.describe_ssl(facts.region, facts.id))
        endpoints = parse_net_info(client.describe_net_info(facts.region, facts.id))
    except CloudError as exc:
        outcome = ReadOutcome.NOT_FOUND if exc.code in NOT_FOUND_CODES else ReadOutcome.ERROR
        return LiveInstance(instance_id=facts.id, region=facts.region, outcome=outcome, facts=facts, error=_error(exc))
    return LiveInstance(
        instance_id=facts.id,
        region=facts.region,
        outcome=ReadOutcome.FOUND,
        facts=facts,
        endpoints=endpoints,
        ssl=ssl,
    )


def read_one(client: CloudClient, ref: InstanceRef, wants_ssl: Callable[[InstanceFacts], bool]) -> LiveInstance:
    """Re-read a single instance (apply does this before and after acting on it)."""
    try:
        items = client.list_instances(ref.region, [ref.instance_id])
    except CloudError as exc:
        return LiveInstance(
            instance_id=ref.instance_id, region=ref.region, outcome=ReadOutcome.ERROR, error=_error(exc)
        )
    match = [item for item in items if item.get("DBInstanceId") == ref.instance_id]
    if not match:
        return LiveInstance(instance_id=ref.instance_id, region=ref.region, outcome=ReadOutcome.NOT_FOUND)
    facts = parse_instance(match[0], ref.region)
    return read_instance(client, facts, wants_ssl(facts))


def read_live(
    client: CloudClient,
    refs: Sequence[InstanceRef],
    *,
    wants_ssl: Callable[[InstanceFacts], bool],
    parallelism: int = 8,
) -> dict[str, LiveInstance]:
    """Live state of every instance in ``refs``, keyed by instance id."""
    results: dict[str, LiveInstance] = {}
    by_region: dict[str, list[str]] = defaultdict(list)
    for ref in refs:
        by_region[ref.region].append(ref.instance_id)
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="rdsssl-read") as pool:
        listings: dict[tuple[str, int], Future[list[dict[str, object]]]] = {}
        for region, ids in by_region.items():
            for start in range(0, len(ids), LIST_CHUNK):
                chunk = ids[start : start + LIST_CHUNK]
                listings[(region, start)] = pool.submit(client.list_instances, region, chunk)
        facts: list[InstanceFacts] = []
        for (region, start), future in listings.items():
            chunk = by_region[region][start : start + LIST_CHUNK]
            try:
                items = future.result()
            except CloudError as exc:
                for instance_id in chunk:
                    results[instance_id] = LiveInstance(
                        instance_id=instance_id, region=region, outcome=ReadOutcome.ERROR, error=_error(exc)
                    )
                continue
            found = {str(item.get("DBInstanceId")): item for item in items}
            for instance_id in chunk:
                if instance_id in found:
                    facts.append(parse_instance(found[instance_id], region))
                else:
                    results[instance_id] = LiveInstance(
                        instance_id=instance_id, region=region, outcome=ReadOutcome.NOT_FOUND
                    )
        reads = {f.id: pool.submit(read_instance, client, f, wants_ssl(f)) for f in facts}
        for instance_id, read in reads.items():
            results[instance_id] = read.result()
    return results

"""The drift command's only I/O with the cloud: read the declared instances, and scan regions. Read-only.

Typed against :class:`~rdsssl_reconcile.cloud.port.ReadOnlyCloudClient` and handed a
:class:`~rdsssl_reconcile.cloud.port.ReadOnlyView` by the command, so this path holds no object on which
``ModifyDBInstanceSSL`` could be called (mypy refuses it; at run time the attribute does not exist).

The declared instances are read exactly as ``plan`` reads them (:func:`~rdsssl_reconcile.live.reader.read_fleet`,
the same discovery and the same two calls per instance). A scanned region is listed page by page
(``DescribeDBInstances`` with ``Engine=PostgreSQL``, as the discovery lists a region), and each instance
no spec covers is asked for its SSL state (DescribeDBInstanceSSL and DescribeDBInstanceNetInfo, through
the reader's :func:`~rdsssl_reconcile.live.reader.read_instance`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rdsssl_reconcile.cloud.port import MAX_PAGE_SIZE, ReadOnlyCloudClient
from rdsssl_reconcile.drift.model import Coverage, UnmanagedInstance
from rdsssl_reconcile.errors import CloudError
from rdsssl_reconcile.live.discovery import ENGINE, items_of, total_of
from rdsssl_reconcile.live.model import LiveInstance, ReadOutcome
from rdsssl_reconcile.live.parse import parse_instance
from rdsssl_reconcile.live.reader import FleetRead, InstanceRef, read_fleet, read_instance
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.spec.model import DesiredInstance
from rdsssl_reconcile.textsafe import visible


def read_declared(
    client: ReadOnlyCloudClient,
    desired: Sequence[DesiredInstance],
    *,
    parallelism: int,
    on_read: Callable[[LiveInstance], None] | None = None,
) -> FleetRead:
    """``on_read``: called in the read worker as each instance's result is known (see ``read_fleet``)."""
    refs = [InstanceRef(instance_id=i.id, region=i.region) for i in desired]
    return read_fleet(client, refs, wants_ssl=can_carry_ssl, parallelism=parallelism, on_read=on_read)


@dataclass(frozen=True, slots=True)
class Scan:
    unmanaged: tuple[UnmanagedInstance, ...]
    coverage: Coverage
    notes: tuple[str, ...]


def _list_region(client: ReadOnlyCloudClient, region: str) -> list[dict[str, object]]:
    first = client.describe_instances_page(region, engine=ENGINE, page_number=1, page_size=MAX_PAGE_SIZE)
    items = items_of(first)
    total = total_of(first)
    pages = math.ceil(total / MAX_PAGE_SIZE) if total is not None else 1
    for number in range(2, pages + 1):
        items += items_of(
            client.describe_instances_page(region, engine=ENGINE, page_number=number, page_size=MAX_PAGE_SIZE)
        )
    # The listing filters on Engine; an answer that ignored it must still count PostgreSQL only.
    return [i for i in items if str(i.get("Engine", ENGINE)) == ENGINE]


def scan_regions(
    client: ReadOnlyCloudClient, regions: Iterable[str], managed: Iterable[str], *, parallelism: int
) -> Scan:
    """The PostgreSQL instances of ``regions`` that no spec covers, with their SSL status, and the coverage."""
    managed_ids = set(managed)
    wanted = list(dict.fromkeys(regions))
    unmanaged: list[UnmanagedInstance] = []
    notes: list[str] = []
    scanned = covered = 0
    for region in wanted:
        try:
            listed = _list_region(client, region)
        except CloudError as exc:
            notes.append(
                f"--scan-region {visible(region)}: could not list it: {visible(exc.code)}: {visible(exc.message)}"
            )
            continue
        seen: dict[str, dict[str, object]] = {}
        for item in listed:
            seen.setdefault(str(item.get("DBInstanceId", "")), item)
        scanned += len(seen)
        covered += sum(1 for i in seen if i in managed_ids)
        facts = [parse_instance(item, region) for i, item in seen.items() if i not in managed_ids]
        with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="rdsssl-scan") as pool:
            reads = list(pool.map(lambda f: read_instance(client, f, can_carry_ssl(f)), facts))
        for fact, read in zip(facts, reads, strict=True):
            ssl_enabled = read.ssl.enabled if read.ssl is not None and read.outcome is ReadOutcome.FOUND else None
            if ssl_enabled is None and read.error is None and not can_carry_ssl(fact):
                ssl_enabled = False  # PostgreSQL < 10, local disks, Serverless: SSL is off, and cannot be on
            unmanaged.append(
                UnmanagedInstance(
                    id=fact.id,
                    region=region,
                    ssl_enabled=ssl_enabled,
                    description=fact.description or None,
                    status=fact.status or None,
                )
            )
            if read.error is not None:
                notes.append(
                    f"unmanaged {visible(fact.id)}: SSL state not read: {visible(read.error.code)}: "
                    f"{visible(read.error.message)}"
                )
    return Scan(
        unmanaged=tuple(unmanaged),
        coverage=Coverage(regions=tuple(wanted), managed=covered, scanned=scanned),
        notes=tuple(notes),
    )

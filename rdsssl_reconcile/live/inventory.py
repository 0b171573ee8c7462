"""Read a region's PostgreSQL instances for ``import``: the live state plus its public PEM material.

Why not :mod:`rdsssl_reconcile.live.reader`: a plan needs the live state by meaning (fingerprints,
summaries), while an import must write the certificates themselves (server certificate with its chain,
client CA, CRL) so that the spec it writes declares exactly what is live. Both read the same way
(DescribeDBInstances, then DescribeDBInstanceSSL and DescribeDBInstanceNetInfo for the instances that
can carry SSL: two calls per instance plus list pages) through a read-only client: ``ServerKey`` was
replaced by its public-key fingerprint in the cloud adapter, so no private key reaches this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rdsssl_reconcile.cloud.port import MAX_PAGE_SIZE, RawBody, ReadOnlyCloudClient
from rdsssl_reconcile.errors import CloudError, PemError
from rdsssl_reconcile.live.discovery import ENGINE, discover_region, items_of, total_of
from rdsssl_reconcile.live.model import InstanceFacts, LiveInstance, ReadError, ReadOutcome
from rdsssl_reconcile.live.parse import parse_instance, parse_net_info, parse_ssl, text
from rdsssl_reconcile.pki.pem import certificates_to_pem, crl_to_pem, load_certificates, load_crl
from rdsssl_reconcile.planning.eligibility import can_carry_ssl


@dataclass(frozen=True, slots=True)
class PublicMaterial:
    """The public PEM the API returned, re-encoded canonically (None: not set, or not parseable)."""

    server_cert: str | None = None
    client_ca: str | None = None
    crl: str | None = None


@dataclass(frozen=True, slots=True)
class InventoryItem:
    live: LiveInstance
    material: PublicMaterial


@dataclass(frozen=True, slots=True)
class Inventory:
    region: str
    items: tuple[InventoryItem, ...]
    #: ``--instance`` ids that DescribeDBInstanceAttribute says do not exist.
    not_found: tuple[str, ...]
    #: ids whose discovery failed, with the error.
    errors: tuple[tuple[str, ReadError], ...]


def _canonical_certificates(body: RawBody, field: str) -> str | None:
    value = text(body.get(field))
    if value is None:
        return None
    try:
        return certificates_to_pem(load_certificates(value, what=field))
    except PemError:
        return None


def _canonical_crl(body: RawBody) -> str | None:
    value = text(body.get("ClientCertRevocationList"))
    if value is None:
        return None
    try:
        return crl_to_pem(load_crl(value))
    except PemError:
        return None


def read_item(client: ReadOnlyCloudClient, facts: InstanceFacts) -> InventoryItem:
    """One instance whose DescribeDBInstances entry is known."""
    if not can_carry_ssl(facts):
        live = LiveInstance(instance_id=facts.id, region=facts.region, outcome=ReadOutcome.FOUND, facts=facts)
        return InventoryItem(live=live, material=PublicMaterial())
    try:
        body = client.describe_ssl(facts.region, facts.id)
        endpoints = parse_net_info(client.describe_net_info(facts.region, facts.id))
    except CloudError as exc:
        error = ReadError(action=exc.action, code=exc.code, message=exc.message, request_id=exc.request_id)
        live = LiveInstance(
            instance_id=facts.id, region=facts.region, outcome=ReadOutcome.ERROR, facts=facts, error=error
        )
        return InventoryItem(live=live, material=PublicMaterial())
    ssl = parse_ssl(body)
    material = PublicMaterial(
        server_cert=_canonical_certificates(body, "ServerCert") if ssl.enabled else None,
        client_ca=_canonical_certificates(body, "ClientCACert") if ssl.enabled else None,
        crl=_canonical_crl(body) if ssl.enabled else None,
    )
    live = LiveInstance(
        instance_id=facts.id,
        region=facts.region,
        outcome=ReadOutcome.FOUND,
        facts=facts,
        endpoints=endpoints,
        ssl=ssl,
    )
    return InventoryItem(live=live, material=material)


def _list_region(client: ReadOnlyCloudClient, region: str) -> list[RawBody]:
    """Every PostgreSQL instance the region lists (``Engine=PostgreSQL``, 100 per page), in listing order."""
    first = client.describe_instances_page(region, engine=ENGINE, page_number=1, page_size=MAX_PAGE_SIZE)
    items = list(items_of(first))
    total = total_of(first)
    pages = math.ceil(total / MAX_PAGE_SIZE) if total is not None else 1
    for number in range(2, pages + 1):
        items += items_of(
            client.describe_instances_page(region, engine=ENGINE, page_number=number, page_size=MAX_PAGE_SIZE)
        )
    unique: dict[str, RawBody] = {}
    for item in items:
        unique.setdefault(str(item.get("DBInstanceId", "")), item)
    return list(unique.values())


def read_inventory(
    client: ReadOnlyCloudClient, region: str, instance_ids: Sequence[str] = (), *, parallelism: int = 8
) -> Inventory:
    """The instances ``import`` describes: ``instance_ids``, or every PostgreSQL instance of ``region``.

    Raises:
        CloudError: the region's listing failed (nothing to import from a partial list).
    """
    not_found: list[str] = []
    errors: list[tuple[str, ReadError]] = []
    if instance_ids:
        discovery = discover_region(client, region, list(dict.fromkeys(instance_ids)))
        entries = []
        for instance_id in dict.fromkeys(instance_ids):
            if instance_id in discovery.found:
                entries.append(discovery.found[instance_id])
            elif instance_id in discovery.missing:
                not_found.append(instance_id)
            else:
                failure = discovery.errors.get(instance_id)
                errors.append(
                    (
                        instance_id,
                        ReadError(action=failure.action, code=failure.code, message=failure.message)
                        if failure
                        else ReadError(action="DescribeDBInstances", code="Unresolved", message="not settled"),
                    )
                )
    else:
        entries = _list_region(client, region)
    facts = [parse_instance(entry, region) for entry in entries]
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="rdsssl-import") as pool:
        items = list(pool.map(lambda f: read_item(client, f), facts))
    items.sort(key=lambda item: item.live.instance_id)
    return Inventory(region=region, items=tuple(items), not_found=tuple(not_found), errors=tuple(errors))

"""Contract of the read-only API surface: only what the public record states, against the emulator or the cloud.

By default (CI) this runs against the emulator. With ``RDSSSL_CONTRACT_REGION`` set (and credentials in the
standard chain: ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, a profile, a role) it
runs against Alibaba Cloud in that region, read-only (Describe actions through a
:class:`~rdsssl_reconcile.cloud.port.ReadOnlyView`)::

    RDSSSL_CONTRACT_REGION=cn-hangzhou pytest -m contract -n 0

Sources, by title: the API pages "DescribeDBInstances" (paging: PageSize 1-100, PageNumber,
PageRecordCount, TotalRecordCount; DBInstanceType Primary/Readonly/Guard/Temp), "DescribeDBInstanceSSL"
(for PostgreSQL: SSLEnabled on/off, RequireUpdate 0/1, LastModifyStatus success/setting/failed,
SSLExpireTime yyyy-MM-ddTHH:mm:ssZ in UTC; every field a string in the SDK's response model) and
"DescribeDBInstanceAttribute" (InvalidDBInstanceId.NotFound for an unknown instance, 404 on Describe,
with a 400 variant).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from rdsssl_reconcile.cloud.port import NOT_FOUND_CODES, RawBody, ReadOnlyView
from rdsssl_reconcile.cloud.session import connect
from rdsssl_reconcile.cloud.target import Credentials, Target
from rdsssl_reconcile.emulator.testing import run_emulator
from rdsssl_reconcile.errors import CloudError
from rdsssl_reconcile.live.discovery import items_of
from rdsssl_reconcile.live.parse import parse_instance
from rdsssl_reconcile.planning.eligibility import can_carry_ssl

pytestmark = pytest.mark.contract

REGION_ENV = "RDSSSL_CONTRACT_REGION"
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
EMPTY = ("", "-")
UNKNOWN_ID = "pgm-rdsssl-contract-no-such-instance"
SSL_FIELDS = ("SSLEnabled", "CAType", "ConnectionString", "SSLExpireTime", "RequireUpdate", "LastModifyStatus")


@dataclass(frozen=True)
class Surface:
    api: ReadOnlyView
    region: str
    where: str


def _emulator_fleet() -> dict[str, object]:
    return {
        "instances": [
            {"id": "pgm-contract-off", "region": "cn-hangzhou"},
            {"id": "pgm-contract-on", "region": "cn-hangzhou", "ssl": {"enabled": True, "ca_type": "aliyun"}},
            {"id": "pgm-contract-mysql", "region": "cn-hangzhou", "engine": "MySQL", "engine_version": "8.0"},
        ]
    }


@pytest.fixture(scope="module")
def surface() -> Iterator[Surface]:
    region = os.environ.get(REGION_ENV)
    if region:
        target = Target(kind="alibaba-cloud", endpoint=None, source=REGION_ENV)
        with connect(target) as connection:
            yield Surface(ReadOnlyView(connection.client), region, "Alibaba Cloud")
        return
    with run_emulator(fleet=_emulator_fleet()) as emulator:
        target = Target(kind="emulator", endpoint=emulator.endpoint, source="contract test").with_endpoint(
            emulator.endpoint, Credentials(emulator.access_key_id, emulator.access_key_secret)
        )
        with connect(target) as connection:
            yield Surface(ReadOnlyView(connection.client), "cn-hangzhou", "emulator")


@pytest.fixture(scope="module")
def first_page(surface: Surface) -> RawBody:
    return surface.api.describe_instances_page(surface.region, engine="PostgreSQL", page_size=100)


@pytest.fixture(scope="module")
def ssl_bodies(surface: Surface, first_page: RawBody) -> list[RawBody]:
    eligible = [i for i in items_of(first_page) if can_carry_ssl(parse_instance(i, surface.region))][:5]
    if not eligible:
        pytest.skip(f"no PostgreSQL 10+ instance on cloud disks listed in {surface.region} ({surface.where})")
    return [surface.api.describe_ssl(surface.region, str(i["DBInstanceId"])) for i in eligible]


def test_describe_db_instances_paging_fields(first_page: RawBody) -> None:
    assert isinstance(first_page["Items"]["DBInstance"], list)
    for name in ("PageNumber", "PageRecordCount", "TotalRecordCount"):
        assert isinstance(first_page[name], int), (name, first_page.get(name))
    assert first_page["PageNumber"] == 1
    assert first_page["PageRecordCount"] == len(first_page["Items"]["DBInstance"]) <= 100
    assert first_page["TotalRecordCount"] >= first_page["PageRecordCount"]


def test_describe_db_instances_items(surface: Surface, first_page: RawBody) -> None:
    for item in items_of(first_page):
        assert isinstance(item["DBInstanceId"], str)
        assert item["DBInstanceId"]
        assert item["Engine"] == "PostgreSQL"  # the Engine filter
        assert item["DBInstanceType"] in ("Primary", "Readonly", "Guard", "Temp")
        for name in ("EngineVersion", "DBInstanceStatus", "DBInstanceStorageType", "PayType", "LockMode"):
            assert isinstance(item[name], str), name


def test_describe_db_instances_single_id(surface: Surface, first_page: RawBody) -> None:
    """One id in DBInstanceId is documented ("The ID of the instance"); several are not, so not asserted."""
    items = items_of(first_page)
    if not items:
        pytest.skip(f"no PostgreSQL instance in {surface.region}")
    instance_id = str(items[0]["DBInstanceId"])
    body = surface.api.describe_instances_page(surface.region, instance_ids=[instance_id])
    assert [str(i["DBInstanceId"]) for i in items_of(body)] == [instance_id]


def test_describe_db_instance_ssl_field_types_and_values(ssl_bodies: list[RawBody]) -> None:
    for body in ssl_bodies:
        for name in SSL_FIELDS:
            if name in body:
                assert isinstance(body[name], str), (name, type(body[name]))
        assert body["SSLEnabled"] in ("on", "off")
        assert body["RequireUpdate"] in ("0", "1", *EMPTY)
        assert body.get("LastModifyStatus", "") in ("success", "setting", "failed", *EMPTY)
        if body["SSLEnabled"] == "on":
            assert ISO_UTC.match(body["SSLExpireTime"]), body["SSLExpireTime"]
            assert body["CAType"] in ("aliyun", "custom")
        assert "ServerKey" not in body  # replaced by its public-key fingerprint before anything sees it


@pytest.mark.parametrize("action", ["describe_instance", "describe_ssl"])
def test_unknown_instance_is_invalid_db_instance_id_not_found(surface: Surface, action: str) -> None:
    with pytest.raises(CloudError) as caught:
        getattr(surface.api, action)(surface.region, UNKNOWN_ID)
    assert caught.value.code in NOT_FOUND_CODES, caught.value.code
    assert caught.value.status in (None, 400, 404)


def test_the_surface_is_read_only(surface: Surface) -> None:
    assert not hasattr(surface.api, "modify_ssl")

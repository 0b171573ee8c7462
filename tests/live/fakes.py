"""A fake of the CloudClient port that reads a list of ids in each way the real API might.

The readings are those nobody can confirm from the public record (DescribeDBInstances' API page says
only "The ID of the instance"): ``list`` (honoured), ``first`` (only the first id), ``ignored`` (the
filter is ignored, the region's instances come back, paged), ``literal`` (the whole string is one id:
nothing matches), ``error`` (the call is refused), ``subset`` (at most ``limit`` ids answered).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rdsssl_reconcile.errors import PermanentCloudError

READINGS = ("list", "first", "ignored", "literal", "error", "subset")


@dataclass
class FakeInstance:
    id: str
    region: str = "cn-hangzhou"
    engine: str = "PostgreSQL"
    engine_version: str = "15.0"
    instance_type: str = "Primary"
    status: str = "Running"
    ssl: dict[str, Any] = field(default_factory=lambda: {"SSLEnabled": "off"})
    endpoints: list[str] = field(default_factory=list)

    @property
    def hosts(self) -> list[str]:
        return self.endpoints or [f"{self.id}.pg.rds.aliyuncs.com"]

    def item(self) -> dict[str, Any]:
        return {
            "DBInstanceId": self.id,
            "RegionId": self.region,
            "Engine": self.engine,
            "EngineVersion": self.engine_version,
            "DBInstanceStorageType": "cloud_essd",
            "PayType": "Postpaid",
            "Category": "HighAvailability",
            "DBInstanceType": self.instance_type,
            "DBInstanceStatus": self.status,
            "LockMode": "Unlock",
            "ConnectionString": f"{self.id}.pg.rds.aliyuncs.com",
        }


def not_found(action: str, instance_id: str) -> PermanentCloudError:
    return PermanentCloudError(
        f"The specified instance {instance_id} is not found.",
        code="InvalidDBInstanceId.NotFound",
        action=action,
        status=404,
    )


class FakeRds:
    """An in-memory RDS with a chosen reading of multi-id DescribeDBInstances; counts every call."""

    def __init__(self, instances: Sequence[FakeInstance], reading: str = "list", *, limit: int = 30) -> None:
        assert reading in READINGS, reading
        self.instances = list(instances)
        self.reading = reading
        self.limit = limit
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _record(self, action: str, **params: Any) -> None:
        with self._lock:
            self.calls[action] += 1
            self.log.append((action, params))

    def _by_id(self, region: str, instance_id: str) -> FakeInstance | None:
        return next((i for i in self.instances if i.id == instance_id and i.region == region), None)

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = 100,
    ) -> dict[str, Any]:
        self._record("DescribeDBInstances", ids=tuple(instance_ids), engine=engine, page=page_number)
        matching = [i for i in self.instances if i.region == region_id and (engine is None or i.engine == engine)]
        ids = list(instance_ids)
        if ids and self.reading != "ignored":
            if len(ids) > 1 and self.reading == "error":
                raise PermanentCloudError(
                    "The specified parameter DBInstanceId is not valid.",
                    code="InvalidDBInstanceId.Malformed",
                    action="DescribeDBInstances",
                    status=400,
                )
            if len(ids) > 1 and self.reading == "first":
                ids = ids[:1]
            if len(ids) > 1 and self.reading == "literal":
                ids = [",".join(ids)]
            if len(ids) > 1 and self.reading == "subset":
                ids = ids[: self.limit]
            wanted = set(ids)
            matching = [i for i in matching if i.id in wanted]
        start = (page_number - 1) * page_size
        page = matching[start : start + page_size]
        return {
            "Items": {"DBInstance": [i.item() for i in page]},
            "PageNumber": page_number,
            "PageRecordCount": len(page),
            "TotalRecordCount": len(matching),
            "RequestId": "req",
        }

    def describe_instance(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._record("DescribeDBInstanceAttribute", id=instance_id)
        instance = self._by_id(region_id, instance_id)
        if instance is None:
            raise not_found("DescribeDBInstanceAttribute", instance_id)
        return instance.item()

    def describe_net_info(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._record("DescribeDBInstanceNetInfo", id=instance_id)
        instance = self._by_id(region_id, instance_id)
        if instance is None:
            raise not_found("DescribeDBInstanceNetInfo", instance_id)
        infos = [{"ConnectionString": host, "IPType": "Private"} for host in instance.hosts]
        return {"DBInstanceNetInfos": {"DBInstanceNetInfo": infos}}

    def describe_ssl(self, region_id: str, instance_id: str) -> dict[str, Any]:
        self._record("DescribeDBInstanceSSL", id=instance_id)
        instance = self._by_id(region_id, instance_id)
        if instance is None:
            raise not_found("DescribeDBInstanceSSL", instance_id)
        return {"ServerKeyPublicSha256": "", **instance.ssl}

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        self._record("ModifyDBInstanceSSL", **parameters)
        return "req"

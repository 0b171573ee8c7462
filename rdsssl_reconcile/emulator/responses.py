"""The wire layer: query parameters in, backend call, the API's JSON out.

Like moto's ``responses.py``, this is where transport decisions live and nowhere else: wire parameter
names, "required" checks that the gateway makes (``Missing{Name}``), paging tokens, and the exact response
shapes of the official SDK's models (``alibabacloud_rds20140815/models``). DescribeDBInstanceSSL answers
with strings only (``SSLEnabled`` ``on``/``off``, ``RequireUpdate`` ``0``/``1``), as the real API does for
PostgreSQL (the API page "DescribeDBInstanceSSL"); the other actions use the types the SDK models declare.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .backend import InstanceFilter, ModifySslRequest, RdsBackend, require_update
from .errors import ServiceError, missing_parameter
from .fleet import iso_z
from .models import Instance, Outcome

Params = Mapping[str, str]
Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Per-request facts the handlers need besides the parameters."""

    request_id: str
    base_url: str
    choose_outcome: Callable[[], Outcome] = lambda: Outcome.SUCCESS


def error_body(error: ServiceError, request_id: str, *, host_id: str) -> Body:
    """The gateway's error envelope (what the SDK's ``do_request`` parses)."""
    return {
        "RequestId": request_id,
        "Code": error.code,
        "Message": error.message,
        "HostId": host_id,
        "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Rds",
    }


def encode(body: Body) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise missing_parameter(name)
    return value


#: The API's integer parameters are 32-bit (Java ``Integer``); larger values are refused, not overflowed.
INT32_MAX = 2**31 - 1


def _int_param(params: Params, name: str, default: int, *, low: int, high: int = INT32_MAX) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceError.of("Parameters.Invalid") from None
    if value < low or value > high:
        raise ServiceError.of("Parameters.Invalid")
    return value


def _next_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _token_offset(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        label, _, number = text.partition(":")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ServiceError.of("Parameters.Invalid") from None
    if label != "offset" or not 0 <= offset <= INT32_MAX:
        raise ServiceError.of("Parameters.Invalid")
    return offset


def _stable_suffix(instance_id: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{instance_id}".encode()).hexdigest()[:20]


def _private_ip(host: str) -> str:
    digest = hashlib.sha256(host.encode()).digest()
    return f"172.16.{digest[0]}.{max(1, digest[1])}"


class RdsResponses:
    """One method per emulated action: ``(params, context) -> JSON body``."""

    def _port(self, instance: Instance, declared: int) -> int:
        served = self.backend.backed_address(instance.id) if instance.backed else None
        return served[1] if served else declared

    def __init__(self, backend: RdsBackend) -> None:
        self.backend = backend

    # ---------------------------------------------------------------- DescribeDBInstances

    def _instance_ids(self, raw: str | None) -> tuple[str, ...] | None:
        """``DBInstanceId`` as the ``describe_ids`` reading takes it; ``None``: no id filter.

        One id means that id under every reading; only a comma-separated value is read differently.
        """
        if not raw:
            return None
        ids = tuple(i.strip() for i in raw.split(",") if i.strip())
        if "," not in raw:
            return ids
        reading = self.backend.settings.describe_ids
        if reading == "list":
            return ids
        if reading == "first":
            return ids[:1]
        if reading == "ignored":
            return None
        if reading == "literal":
            return (raw,)
        raise ServiceError.of("InvalidDBInstanceId.Malformed")

    def describe_db_instances(self, params: Params, context: RequestContext) -> Body:
        region = _required(params, "RegionId")
        filters = InstanceFilter(
            engine=params.get("Engine") or None,
            instance_ids=self._instance_ids(params.get("DBInstanceId")),
            status=params.get("DBInstanceStatus") or None,
            instance_type=params.get("DBInstanceType") or None,
            engine_version=params.get("EngineVersion") or None,
            pay_type=params.get("PayType") or None,
            category=params.get("Category") or None,
        )
        body: Body = {"RequestId": context.request_id}
        if "MaxResults" in params or "NextToken" in params:
            # "If you specify this parameter, PageSize and PageNumber become invalid" (the API page "DescribeDBInstances").
            limit = _int_param(params, "MaxResults", 30, low=1, high=100)
            token = params.get("NextToken") or ""
            offset = _token_offset(token) if token else 0
            page, _ = self.backend.describe_instances(
                region=region, filters=filters, offset=offset, limit=limit + 1, count_total=False
            )
            more = len(page) > limit
            page = page[:limit]
            body.update(
                {
                    "Items": {"DBInstance": [self._list_item(i) for i in page]},
                    "PageRecordCount": len(page),
                    # "returns only the number of records on the current page" in this mode ("DescribeDBInstances").
                    "TotalRecordCount": len(page),
                    "NextToken": _next_token(offset + limit) if more else "",
                }
            )
            return body
        size = _int_param(params, "PageSize", 30, low=1, high=100)
        number = _int_param(params, "PageNumber", 1, low=1)
        page, total = self.backend.describe_instances(
            region=region, filters=filters, offset=(number - 1) * size, limit=size
        )
        body.update(
            {
                "Items": {"DBInstance": [self._list_item(i) for i in page]},
                "PageNumber": number,
                "PageRecordCount": len(page),
                "TotalRecordCount": total,
            }
        )
        return body

    def _network(self, instance: Instance) -> dict[str, Any]:
        return {
            "VpcId": f"vpc-{_stable_suffix(instance.region, 'vpc')}",
            "VSwitchId": f"vsw-{_stable_suffix(instance.zone_id, 'vsw')}",
            "InstanceNetworkType": "VPC",
        }

    def _readonly_ids(self, instance: Instance) -> dict[str, Any]:
        ids = self.backend.readonly_ids(instance.id)
        return {"ReadOnlyDBInstanceId": [{"DBInstanceId": i} for i in ids]}

    def _list_item(self, instance: Instance) -> Body:
        return {
            "DBInstanceId": instance.id,
            "DBInstanceDescription": instance.description,
            "Engine": instance.engine,
            "EngineVersion": instance.engine_version,
            "DBInstanceClass": instance.instance_class,
            "DBInstanceStatus": instance.status,
            "DBInstanceStorageType": instance.storage_type,
            "DBInstanceType": instance.instance_type,
            "Category": instance.category,
            "PayType": instance.pay_type,
            "ConnectionString": instance.primary_endpoint.host,
            "ConnectionMode": "Standard",
            "RegionId": instance.region,
            "ZoneId": instance.zone_id,
            **self._network(instance),
            "DBInstanceNetType": "Intranet",
            "LockMode": instance.lock_mode,
            "LockReason": "",
            "MasterInstanceId": instance.master_instance_id,
            "GuardDBInstanceId": "",
            "TempDBInstanceId": "",
            "ReadOnlyDBInstanceIds": self._readonly_ids(instance),
            "CreateTime": iso_z(instance.created_at),
            "ExpireTime": "",
            "DestroyTime": "",
            "ResourceGroupId": "rg-emulator",
            "DeletionProtection": False,
            "MutriORsignle": False,
            "TipsLevel": 0,
        }

    # ---------------------------------------------------------------- DescribeDBInstanceAttribute

    def describe_db_instance_attribute(self, params: Params, context: RequestContext) -> Body:
        instance = self.backend.get_instance(_required(params, "DBInstanceId"))
        attribute: Body = {
            **self._list_item(instance),
            "Port": str(self._port(instance, instance.primary_endpoint.port)),
            "DBInstanceStorage": instance.storage_gb,
            "DBInstanceCPU": "2",
            "DBInstanceMemory": 4096,
            "MaxConnections": 400,
            "MaxIOPS": 10000,
            "CreationTime": iso_z(instance.created_at),
            "MaintainTime": "18:00Z-22:00Z",
            "CurrentKernelVersion": f"rds_postgres_{instance.engine_version.split('.')[0]}00_20240630",
            "ReadOnlyStatus": "OFF",
            "SecurityIPMode": "normal",
            "SlaveZones": {"SlaveZone": [{"ZoneId": instance.zone_id}]},
        }
        if instance.is_serverless:
            attribute["ServerlessConfig"] = {"AutoPause": False, "ScaleMax": 8.0, "ScaleMin": 0.5, "SwitchForce": False}
        return {"RequestId": context.request_id, "Items": {"DBInstanceAttribute": [attribute]}}

    # ---------------------------------------------------------------- DescribeDBInstanceNetInfo

    def describe_db_instance_net_info(self, params: Params, context: RequestContext) -> Body:
        instance = self.backend.get_instance(_required(params, "DBInstanceId"))
        network = self._network(instance)
        # A backed instance keeps its endpoint names (the names its certificate must cover) and reports the
        # address and port its real server listens on: a client connects there and verifies the name.
        served = self.backend.backed_address(instance.id) if instance.backed else None
        infos: list[Body] = [
            {
                "ConnectionString": e.host,
                "ConnectionStringType": e.connection_string_type,
                "IPAddress": served[0] if served else (_private_ip(e.host) if e.ip_type == "Private" else "47.96.0.1"),
                "IPType": e.ip_type,
                "Port": str(served[1] if served else e.port),
                "VPCId": network["VpcId"] if e.ip_type == "Private" else "",
                "VSwitchId": network["VSwitchId"] if e.ip_type == "Private" else "",
                "Upgradeable": "Disabled",
                "SecurityIPGroups": {"securityIPGroup": []},
                "DBInstanceWeights": {"DBInstanceWeight": []},
            }
            for e in instance.endpoints
        ]
        return {
            "RequestId": context.request_id,
            "InstanceNetworkType": "VPC",
            "SecurityIPMode": "normal",
            "DBInstanceNetInfos": {"DBInstanceNetInfo": infos},
        }

    # ---------------------------------------------------------------- DescribeDBInstanceSSL

    def describe_db_instance_ssl(self, params: Params, context: RequestContext) -> Body:
        instance, now = self.backend.describe_ssl(_required(params, "DBInstanceId"))
        settings = self.backend.settings
        absent = settings.absent_value
        ssl = instance.ssl

        def text(value: str | None) -> str:
            return value if value else absent

        update = require_update(ssl, now, days=settings.require_update_days)
        aliyun = ssl.enabled and ssl.ca_type == "aliyun"
        # "Forcefully enable SSL connections": the default authentication method is prefer, and the
        # provider's PG13 test reads acl = prefer right after enabling SSL without a client CA.
        default_acl = "prefer" if ssl.enabled else None
        return {
            "RequestId": context.request_id,
            "SSLEnabled": "on" if ssl.enabled else "off",
            "CAType": text(ssl.ca_type if ssl.enabled else None),
            "ConnectionString": text(self.backend.reported_endpoints(ssl)),
            "SSLExpireTime": text(iso_z(ssl.expires_at) if ssl.enabled and ssl.expires_at else None),
            "SSLCreateTime": text(iso_z(ssl.issued_at) if aliyun and ssl.issued_at else None),
            "RequireUpdate": "1" if update.required else "0",
            "RequireUpdateItem": text(update.item),
            "RequireUpdateReason": text(update.reason),
            "LastModifyStatus": text(instance.last_modify_status),
            "ModifyStatusReason": text(instance.modify_status_reason),
            "ServerCAUrl": text(f"{context.base_url}/_emulator/ca.pem" if aliyun else None),
            "ServerCert": text(ssl.server_cert if ssl.enabled else None),
            "ServerKey": text(ssl.server_key if ssl.enabled and settings.return_server_key else None),
            "ClientCACert": text(ssl.client_ca_cert),
            "ClientCACertExpireTime": absent,  # "This parameter is not supported." ("DescribeDBInstanceSSL")
            "ClientCertRevocationList": text(ssl.crl),
            "ACL": text(ssl.acl or default_acl),
            "ReplicationACL": text(ssl.replication_acl or default_acl),
            "ForceEncryption": absent,  # SQL Server only
            "TlsVersion": absent,  # SQL Server only
        }

    # ---------------------------------------------------------------- ModifyDBInstanceSSL

    def modify_db_instance_ssl(self, params: Params, context: RequestContext) -> Body:
        request = ModifySslRequest(
            instance_id=_required(params, "DBInstanceId"),
            connection_string=_required(params, "ConnectionString"),
            ssl_enabled=params.get("SSLEnabled"),
            ca_type=params.get("CAType"),
            server_cert=params.get("ServerCert"),
            server_key=params.get("ServerKey"),
            client_ca_enabled=params.get("ClientCAEnabled"),
            client_ca_cert=params.get("ClientCACert"),
            client_crl_enabled=params.get("ClientCrlEnabled"),
            client_crl=params.get("ClientCertRevocationList"),
            acl=params.get("ACL"),
            replication_acl=params.get("ReplicationACL"),
        )
        self.backend.modify_ssl(request, request_id=context.request_id, choose_outcome=context.choose_outcome)
        return {"RequestId": context.request_id}

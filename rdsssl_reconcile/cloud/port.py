"""The cloud as a port: the few RDS calls this tool makes, as Protocols.

Bodies are the raw JSON objects the API returns (``dict``), except that DescribeDBInstanceSSL bodies
have ``ServerKey`` replaced by ``ServerKeyPublicSha256`` before they leave the adapter. Pure parsers in
:mod:`rdsssl_reconcile.live.parse` turn them into values. Implementations raise
:class:`~rdsssl_reconcile.errors.TransientCloudError` or :class:`~rdsssl_reconcile.errors.PermanentCloudError`.

Two Protocols: :class:`ReadOnlyCloudClient` holds the Describe actions only, and :class:`CloudClient` adds
the one mutating action. ``probe`` is typed against the read-only one and is handed a
:class:`ReadOnlyView`, an object that has no ``modify_ssl`` at all, so its code path cannot send a change
even by mistake (mypy refuses it, and at run time the attribute does not exist).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

RawBody = dict[str, Any]

#: Error codes meaning "the instance is busy with another change; wait and retry" (error codes
#: listed on the API pages "ModifyDBInstanceSSL" and "DescribeDBInstanceSSL").
BUSY_CODES = frozenset(
    {"IncorrectDBInstanceState", "IncorrectDBSslStatus", "OperationDenied.DBInstanceStatus", "InvalideStatus.Format"}
)

#: Error codes meaning "no such instance" (the API pages "DescribeDBInstanceAttribute" and
#: "ModifyDBInstanceSSL": ``InvalidDBInstanceId.NotFound``, 404 on Describe and 400 on Modify).
NOT_FOUND_CODES = frozenset({"InvalidDBInstanceId.NotFound", "DBInstanceNotFound"})

#: The largest page DescribeDBInstances serves ("PageSize: 1 to 100", its API page).
MAX_PAGE_SIZE = 100


class ReadOnlyCloudClient(Protocol):
    """The Describe actions: everything ``plan`` and ``probe`` need, and nothing that changes an instance."""

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = MAX_PAGE_SIZE,
    ) -> RawBody:
        """One DescribeDBInstances call: the whole body (``Items.DBInstance``, ``PageNumber``, ``TotalRecordCount``).

        ``instance_ids`` are sent as one comma-separated ``DBInstanceId`` (left out when empty). Nothing
        public says how the API reads several ids, so callers trust only the items whose ``DBInstanceId``
        they asked for (see :mod:`rdsssl_reconcile.live.reader`).
        """
        ...

    def describe_instance(self, region_id: str, instance_id: str) -> RawBody:
        """DescribeDBInstanceAttribute: the instance's ``Items.DBInstanceAttribute[0]`` entry."""
        ...

    def describe_net_info(self, region_id: str, instance_id: str) -> RawBody:
        """DescribeDBInstanceNetInfo body."""
        ...

    def describe_ssl(self, region_id: str, instance_id: str) -> RawBody:
        """DescribeDBInstanceSSL body, with ``ServerKey`` already replaced by its public-key fingerprint."""
        ...


class CloudClient(ReadOnlyCloudClient, Protocol):
    """What the planner's reader and the applier need from RDS."""

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        """ModifyDBInstanceSSL with the given wire parameters; returns the RequestId."""
        ...


class ReadOnlyView:
    """The Describe actions of a client, and only those: there is no way to reach ``modify_ssl`` through it.

    Deliberately no ``__getattr__``: the wrapped client is private, so a read-only code path holding a
    view cannot call anything the view does not define.
    """

    __slots__ = ("__client",)

    def __init__(self, client: ReadOnlyCloudClient) -> None:
        self.__client = client

    def describe_instances_page(
        self,
        region_id: str,
        *,
        instance_ids: Sequence[str] = (),
        engine: str | None = None,
        page_number: int = 1,
        page_size: int = MAX_PAGE_SIZE,
    ) -> RawBody:
        return self.__client.describe_instances_page(
            region_id, instance_ids=instance_ids, engine=engine, page_number=page_number, page_size=page_size
        )

    def describe_instance(self, region_id: str, instance_id: str) -> RawBody:
        return self.__client.describe_instance(region_id, instance_id)

    def describe_net_info(self, region_id: str, instance_id: str) -> RawBody:
        return self.__client.describe_net_info(region_id, instance_id)

    def describe_ssl(self, region_id: str, instance_id: str) -> RawBody:
        return self.__client.describe_ssl(region_id, instance_id)

"""The cloud as a port: the few RDS calls this tool makes, as a Protocol.

Bodies are the raw JSON objects the API returns (``dict``), except that DescribeDBInstanceSSL bodies
have ``ServerKey`` replaced by ``ServerKeyPublicSha256`` before they leave the adapter. Pure parsers in
:mod:`rdsssl_reconcile.live.parse` turn them into values. Implementations raise
:class:`~rdsssl_reconcile.errors.TransientCloudError` or :class:`~rdsssl_reconcile.errors.PermanentCloudError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

RawBody = dict[str, Any]

#: Error codes meaning "the instance is busy with another change; wait and retry" (reference §9).
BUSY_CODES = frozenset(
    {"IncorrectDBInstanceState", "IncorrectDBSslStatus", "OperationDenied.DBInstanceStatus", "InvalideStatus.Format"}
)

#: Error codes meaning "no such instance".
NOT_FOUND_CODES = frozenset({"InvalidDBInstanceId.NotFound", "DBInstanceNotFound"})


class CloudClient(Protocol):
    """What the planner's reader and the applier need from RDS."""

    def list_instances(self, region_id: str, instance_ids: Sequence[str]) -> list[RawBody]:
        """DescribeDBInstances filtered to ``instance_ids`` (all pages): the ``Items.DBInstance`` entries."""
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

    def modify_ssl(self, region_id: str, parameters: Mapping[str, str]) -> str:
        """ModifyDBInstanceSSL with the given wire parameters; returns the RequestId."""
        ...

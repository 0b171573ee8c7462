"""Tunable behaviour of the emulator, for the answers the public record leaves open.

Defaults follow the public record (API pages, Alibaba's guides, the Terraform provider's acceptance tests,
which run against the real cloud); docs/emulator.md cites the source of each. Where the record does not
settle a question, every plausible reading is a value of a setting, so the client can be tested under all
of them and ``rdsssl-reconcile probe`` can tell which one a real target shows. Settings are a frozen value;
changing one makes a new value (``updated``), so a request never sees half of a change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: The two codes the public record offers for a modify on a non-Running instance: the API page
#: "ModifyDBInstanceSSL" lists ``InvalideStatus.Format`` (400); ``IncorrectDBInstanceState`` (403) is the
#: generic RDS code of the Describe pages.
NOT_RUNNING_ERRORS = ("InvalideStatus.Format", "IncorrectDBInstanceState")
#: How DescribeDBInstances may read ``DBInstanceId=a,b,c`` (the API page says only "The ID of the instance").
DESCRIBE_IDS_READINGS = ("list", "first", "ignored", "literal", "error")
#: How several endpoints travel in ``ConnectionString`` (undocumented): ``a,b``, ``a;b``, or one endpoint
#: with the protected hosts following the custom certificate's SANs (the console's "Protected Host" records).
CONNECTION_STRING_FORMATS = ("comma", "semicolon", "certificate-sans")
#: Documented codes the read/write-splitting endpoint may be refused with (the API says only that SSL
#: cannot protect it): the ModifyDBInstanceSSL table's ``Endpoint.NotFound`` and ``Parameters.Invalid``,
#: the DescribeDBInstanceSSL table's ``InvalidConnectionString.NotFound``.
RW_SPLITTING_ERRORS = ("Endpoint.NotFound", "Parameters.Invalid", "InvalidConnectionString.NotFound")
#: "Forcefully enable SSL connections": an ACL change takes about 1 minute, the other changes about 3.
ACL_TO_RESTART_RATIO = 60.0 / 180.0
CLOUD_KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorSettings:
    """Behaviour switches. Defaults follow the public record; open readings default to the likeliest.

    Attributes:
        restart_seconds: how long a modify keeps the instance busy (real RDS: about 180 s, "Forcefully
            enable SSL connections" and the custom-certificate guide).
        acl_restart_seconds: how long a modify that changes only ``ACL``/``ReplicationACL`` keeps the
            instance busy (real RDS: about 60 s, "Forcefully enable SSL connections"). ``None`` scales it
            with ``restart_seconds`` (a third of it), so a test that shortens restarts shortens both.
        busy_status: ``DBInstanceStatus`` during an SSL change: ``SSL_MODIFYING``, the status the
            provider's RDS update path waits on (``alicloud/resource_alicloud_db_instance.go``).
        not_running_error: the code for a modify on a non-Running instance: ``InvalideStatus.Format``
            (400, the API page "ModifyDBInstanceSSL"); ``IncorrectDBInstanceState`` (403) is the other
            documented candidate.
        describe_ids: how DescribeDBInstances reads a comma-separated ``DBInstanceId`` (open question):
            ``list`` honours it, ``first`` keeps only the first id, ``ignored`` drops the filter (the
            region's instances, paged), ``literal`` takes the whole string as one id (no match), ``error``
            refuses it (400 ``InvalidDBInstanceId.Malformed``). A single id works under every reading.
        connection_string_format: how several endpoints are given in ModifyDBInstanceSSL's
            ``ConnectionString`` and reported by DescribeDBInstanceSSL (open question): ``comma``,
            ``semicolon``, or ``certificate-sans`` (one endpoint; the protected hosts follow the custom
            certificate's SANs; a list is ``Endpoint.NotFound``).
        rw_splitting_error: the code for a ``ConnectionString`` naming the read/write-splitting endpoint
            (open question; one of :data:`RW_SPLITTING_ERRORS`).
        require_update_days: ``RequireUpdate`` turns ``1`` when the certificate expires within this many days.
        return_server_key: DescribeDBInstanceSSL returns ``ServerKey`` (its API page "DescribeDBInstanceSSL" documents it).
        strict_ca_type: refuse ``SSLEnabled=1`` without ``CAType`` (zh doc) instead of defaulting to aliyun (en doc).
        absent_value: what a field with no value reads (``""`` or ``"-"``: the API pages' examples show ``-``).
        readonly_ssl_supported: allow SSL on non-primary instances, with the primaries' prerequisites (the
            provider's PostgreSQL read-only acceptance test enables SSL, a client CA, a CRL and ACLs on a
            replica: ``alicloud/resource_alicloud_db_readonly_instance_test.go``).
        cloud_ssd_supported: allow SSL on ``cloud_ssd`` (older docs allow it; ``CloudSSDNotSupport`` otherwise).
        check_custom_cert_hostname: refuse a custom certificate that does not cover every ``ConnectionString``.
        cloud_cert_days: validity of the emulated cloud certificates (365 days, "Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance").
        cloud_key_type: key type of the emulated cloud certificates.
        cloud_cert_auto_renew_days: Alibaba Cloud renews a cloud certificate on its own this many days
            before it expires ("Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance": before
            it expires, Alibaba Cloud notifies you and then automatically renews the certificate, on a
            schedule the Schedule Event dialog box can change). When is not public, and the API page
            "DescribeDBInstanceSSL" says you must update the validity yourself (``RequireUpdate``), so
            ``None`` (never on its own; the default, which keeps ``RequireUpdate`` observable) and any
            number of days are readings. A renewal is a new key and certificate for the same endpoint,
            issued at the scheduled moment of business time, with no busy status.
        max_clock_skew_seconds: gateway tolerance for ``x-acs-date`` (15 minutes).
        nonce_ttl_seconds: how long a used ``x-acs-signature-nonce`` is remembered; never less than twice
            ``max_clock_skew_seconds``, so a replay cannot outlive the memory of its nonce.
        call_log_limit: the call log keeps at most this many records (oldest dropped first).
        host_id: ``HostId`` in error envelopes.
    """

    restart_seconds: float = 180.0
    acl_restart_seconds: float | None = None
    busy_status: str = "SSL_MODIFYING"
    not_running_error: str = "InvalideStatus.Format"
    describe_ids: str = "list"
    connection_string_format: str = "comma"
    rw_splitting_error: str = "Endpoint.NotFound"
    require_update_days: float = 30.0
    return_server_key: bool = True
    strict_ca_type: bool = False
    absent_value: str = ""
    readonly_ssl_supported: bool = True
    cloud_ssd_supported: bool = True
    check_custom_cert_hostname: bool = False
    cloud_cert_days: int = 365
    cloud_key_type: str = "rsa-2048"
    cloud_cert_auto_renew_days: float | None = None
    max_clock_skew_seconds: float = 900.0
    nonce_ttl_seconds: float = 900.0
    call_log_limit: int = 100_000
    host_id: str = "rds.aliyuncs.com"

    def __post_init__(self) -> None:
        if self.restart_seconds < 0:
            raise ValueError(f"restart_seconds must be >= 0 (got {self.restart_seconds!r})")
        if self.acl_restart_seconds is not None and self.acl_restart_seconds < 0:
            raise ValueError(f"acl_restart_seconds must be >= 0 or null (got {self.acl_restart_seconds!r})")
        for name, allowed in (
            ("not_running_error", NOT_RUNNING_ERRORS),
            ("describe_ids", DESCRIBE_IDS_READINGS),
            ("connection_string_format", CONNECTION_STRING_FORMATS),
            ("rw_splitting_error", RW_SPLITTING_ERRORS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)} (got {getattr(self, name)!r})")
        if self.cloud_key_type not in CLOUD_KEY_TYPES:
            raise ValueError(f"cloud_key_type must be one of {CLOUD_KEY_TYPES} (got {self.cloud_key_type!r})")
        if self.absent_value not in ("", "-"):
            raise ValueError(f"absent_value must be '' or '-' (got {self.absent_value!r})")
        if not self.busy_status.strip() or self.busy_status == "Running":
            raise ValueError(f"busy_status must be a non-empty status other than Running (got {self.busy_status!r})")
        if self.cloud_cert_days < 1 or self.call_log_limit < 1:
            raise ValueError("cloud_cert_days and call_log_limit must be >= 1")
        renew = self.cloud_cert_auto_renew_days
        if renew is not None and not 0 <= renew < self.cloud_cert_days:
            raise ValueError(
                f"cloud_cert_auto_renew_days must be null or from 0 to less than cloud_cert_days (got {renew!r})"
            )

    def updated(self, **changes: Any) -> EmulatorSettings:
        """A copy with ``changes`` applied, each checked against the field's type."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in fields:
                raise ValueError(f"unknown setting {name!r}; known settings: {', '.join(sorted(fields))}")
            coerced[name] = _coerce(name, fields[name].type, value)
        return dataclasses.replace(self, **coerced)

    @property
    def acl_busy_seconds(self) -> float:
        """How long an ACL-only modify keeps the instance busy (``acl_restart_seconds`` or its scaled default)."""
        if self.acl_restart_seconds is not None:
            return self.acl_restart_seconds
        return self.restart_seconds * ACL_TO_RESTART_RATIO

    @property
    def endpoint_separator(self) -> str | None:
        """The separator of an endpoint list in ``ConnectionString``; ``None``: one endpoint only."""
        return {"comma": ",", "semicolon": ";"}.get(self.connection_string_format)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, declared: object, value: Any) -> Any:
    kind = str(declared)
    if kind.endswith(" | None"):
        if value is None:
            return None
        kind = kind.removesuffix(" | None")
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"setting {name!r} must be true or false (got {value!r})")
        return value
    if kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(
                f"setting {name!r} must be a finite number{' or null' if str(declared).endswith('None') else ''} (got {value!r})"
            )
        return int(value) if kind == "int" else float(value)
    if not isinstance(value, str):
        raise ValueError(f"setting {name!r} must be a string (got {value!r})")
    return value

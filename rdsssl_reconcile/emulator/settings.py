"""Tunable behaviour of the emulator, for the answers the public docs leave open.

Every open question in the reference (§11) that cheaply has two plausible answers is a setting here,
with the default documented in ``docs/emulator.md``, so a test can rehearse the other variant. Settings
are a frozen value; changing one makes a new value (``updated``), so a request never sees half of a change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

NOT_RUNNING_ERRORS = ("IncorrectDBInstanceState", "InvalideStatus.Format")
CLOUD_KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256")


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorSettings:
    """Behaviour switches. Defaults follow the reference's recommendations.

    Attributes:
        restart_seconds: how long a modify keeps the instance busy (real RDS: about 180 s).
        busy_status: ``DBInstanceStatus`` during an SSL change (the real string is undocumented, §3).
        not_running_error: the code for a modify on a non-Running instance (§9 recommends 403
            ``IncorrectDBInstanceState``; ``InvalideStatus.Format`` 400 is the other documented candidate).
        require_update_days: ``RequireUpdate`` turns ``1`` when the certificate expires within this many days.
        return_server_key: DescribeDBInstanceSSL returns ``ServerKey`` (the real API does, §2).
        strict_ca_type: refuse ``SSLEnabled=1`` without ``CAType`` (zh doc) instead of defaulting to aliyun (en doc).
        absent_value: what a field with no value reads (``""`` or ``"-"``, §11.5).
        readonly_ssl_supported: allow SSL on ``Readonly`` instances (undocumented, §4; refused by default).
        cloud_ssd_supported: allow SSL on ``cloud_ssd`` (older docs allow it; ``CloudSSDNotSupport`` otherwise).
        check_custom_cert_hostname: refuse a custom certificate that does not cover every ``ConnectionString``.
        cloud_cert_days: validity of the emulated cloud certificates (365 days, §5).
        cloud_key_type: key type of the emulated cloud certificates.
        max_clock_skew_seconds: gateway tolerance for ``x-acs-date`` (15 minutes).
        nonce_ttl_seconds: how long a used ``x-acs-signature-nonce`` is remembered; never less than twice
            ``max_clock_skew_seconds``, so a replay cannot outlive the memory of its nonce.
        call_log_limit: the call log keeps at most this many records (oldest dropped first).
        host_id: ``HostId`` in error envelopes.
    """

    restart_seconds: float = 180.0
    busy_status: str = "SSLModifying"
    not_running_error: str = "IncorrectDBInstanceState"
    require_update_days: float = 30.0
    return_server_key: bool = True
    strict_ca_type: bool = False
    absent_value: str = ""
    readonly_ssl_supported: bool = False
    cloud_ssd_supported: bool = True
    check_custom_cert_hostname: bool = False
    cloud_cert_days: int = 365
    cloud_key_type: str = "rsa-2048"
    max_clock_skew_seconds: float = 900.0
    nonce_ttl_seconds: float = 900.0
    call_log_limit: int = 100_000
    host_id: str = "rds.aliyuncs.com"

    def __post_init__(self) -> None:
        if self.restart_seconds < 0:
            raise ValueError(f"restart_seconds must be >= 0 (got {self.restart_seconds!r})")
        if self.not_running_error not in NOT_RUNNING_ERRORS:
            raise ValueError(f"not_running_error must be one of {NOT_RUNNING_ERRORS} (got {self.not_running_error!r})")
        if self.cloud_key_type not in CLOUD_KEY_TYPES:
            raise ValueError(f"cloud_key_type must be one of {CLOUD_KEY_TYPES} (got {self.cloud_key_type!r})")
        if self.absent_value not in ("", "-"):
            raise ValueError(f"absent_value must be '' or '-' (got {self.absent_value!r})")
        if not self.busy_status:
            raise ValueError("busy_status must not be empty")
        if self.cloud_cert_days < 1 or self.call_log_limit < 1:
            raise ValueError("cloud_cert_days and call_log_limit must be >= 1")

    def updated(self, **changes: Any) -> EmulatorSettings:
        """A copy with ``changes`` applied, each checked against the field's type."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in fields:
                raise ValueError(f"unknown setting {name!r}; known settings: {', '.join(sorted(fields))}")
            coerced[name] = _coerce(name, fields[name].type, value)
        return dataclasses.replace(self, **coerced)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, declared: object, value: Any) -> Any:
    kind = str(declared)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"setting {name!r} must be true or false (got {value!r})")
        return value
    if kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"setting {name!r} must be a finite number (got {value!r})")
        return int(value) if kind == "int" else float(value)
    if not isinstance(value, str):
        raise ValueError(f"setting {name!r} must be a string (got {value!r})")
    return value

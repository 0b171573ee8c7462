"""Which SSL changes restart an instance, and for how long: one table, each row citing its document.

Alibaba Cloud documents restarts for some operations and is silent on others. A silent row is
``UNKNOWN``, and UNKNOWN counts as a restart everywhere (summary, policy, ``--max-restarts``) while the
plan says it is undocumented: a reviewer would rather be warned of a restart that does not happen than
surprised by one that does. A change that matches no row is ``UNKNOWN`` for the same reason.

Every row carries its own duration estimate, because the documents give different ones: about
3 minutes for the certificate, the client CA, the CRL and disabling SSL, about 1 minute for an ACL.
An instance gets one request for all its pending fields, so it restarts once, for the longest
estimate among the rows its request triggers (:class:`~rdsssl_reconcile.planning.model.RestartAssessment`).

Sources (Alibaba Cloud documentation, cited by title):

* "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance": configuring a custom
  certificate, modifying an existing one and disabling SSL encryption trigger a restart that "takes
  about 3 minutes".
* "Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance" (the cloud certificate; zh:
  "开启云端证书、更改云端证书保护的连接地址或关闭SSL链路加密, 将会重启"): enabling the cloud certificate,
  changing the endpoint it protects and disabling SSL restart the instance.
* "Configure a client CA certificate for an ApsaraDB RDS for PostgreSQL instance": enabling a client
  CA, changing its content and modifying the CRL restart the instance for "approximately 3 minutes";
  disabling the client CA is not stated.
* "Forcefully enable SSL connections": changing the ACL takes about 1 minute, during which no
  operations can be performed. Whether that is a restart is not stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Restart(Enum):
    """Whether a change restarts the instance. Ordered: REQUIRED > UNKNOWN > NOT_REQUIRED."""

    REQUIRED = "required"
    UNKNOWN = "unknown"
    NOT_REQUIRED = "not_required"

    @property
    def counts_as_restart(self) -> bool:
        return self is not Restart.NOT_REQUIRED

    @staticmethod
    def worst(values: list[Restart]) -> Restart:
        for candidate in (Restart.REQUIRED, Restart.UNKNOWN):
            if candidate in values:
                return candidate
        return Restart.NOT_REQUIRED


@dataclass(frozen=True, slots=True)
class RestartRule:
    """One row: the operation, its verdict, how long it keeps the instance unavailable, and who says so."""

    id: str
    operation: str
    restart: Restart
    estimated_seconds: int
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "restart": self.restart.value,
            "estimated_seconds": self.estimated_seconds,
            "source": self.source,
        }


#: "about 3 minutes" (custom-certificate, cloud-certificate and client-CA documents).
THREE_MINUTES = 180
#: "about 1 minute" ("Forcefully enable SSL connections", for an ACL change).
ONE_MINUTE = 60

_CUSTOM_DOC = "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance"
_CLOUD_DOC = "Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance"
_CLIENT_CA_DOC = "Configure a client CA certificate for an ApsaraDB RDS for PostgreSQL instance"
_FORCE_DOC = "Forcefully enable SSL connections"

_CUSTOM = f'"{_CUSTOM_DOC}": configuring or modifying a custom certificate restarts the instance, about 3 minutes'
_CLOUD = (
    f'"{_CLOUD_DOC}": enabling the cloud certificate or changing the endpoint it protects restarts the instance '
    "(its duration as for the other certificate changes, about 3 minutes)"
)
_DISABLE = (
    f'"{_CUSTOM_DOC}": disabling SSL encryption restarts the instance, about 3 minutes; '
    f'"{_CLOUD_DOC}": disabling SSL restarts it'
)
_CLIENT_CA = (
    f'"{_CLIENT_CA_DOC}": enabling or changing the client CA certificate and modifying the CRL restart the '
    "instance, approximately 3 minutes"
)
_ACL = (
    f'"{_FORCE_DOC}": changing the ACL takes about 1 minute, during which no operations can be performed; '
    "whether that is a restart is not stated, so it is counted as one"
)

RULES: tuple[RestartRule, ...] = (
    RestartRule(
        "enable-ssl-cloud-cert", "Enable SSL with the cloud certificate", Restart.REQUIRED, THREE_MINUTES, _CLOUD
    ),
    RestartRule(
        "change-cloud-cert-endpoint",
        "Change the endpoint the cloud certificate protects",
        Restart.REQUIRED,
        THREE_MINUTES,
        _CLOUD,
    ),
    RestartRule("disable-ssl", "Disable SSL", Restart.REQUIRED, THREE_MINUTES, _DISABLE),
    RestartRule("configure-custom-cert", "Configure a custom certificate", Restart.REQUIRED, THREE_MINUTES, _CUSTOM),
    RestartRule(
        "modify-custom-cert",
        "Modify the custom certificate (certificate, key or endpoints)",
        Restart.REQUIRED,
        THREE_MINUTES,
        _CUSTOM,
    ),
    RestartRule(
        "switch-to-cloud-cert",
        "Switch from a custom to the cloud certificate",
        Restart.REQUIRED,
        THREE_MINUTES,
        f"{_CLOUD} (switching is enabling the cloud certificate)",
    ),
    RestartRule(
        "renew-cloud-cert",
        "Renew the cloud certificate (SSLEnabled=1 with CAType=aliyun again)",
        Restart.REQUIRED,
        THREE_MINUTES,
        f"{_CLOUD} (inferred: the renewal request is the enabling request)",
    ),
    RestartRule("enable-client-ca", "Enable the client CA certificate", Restart.REQUIRED, THREE_MINUTES, _CLIENT_CA),
    RestartRule("change-client-ca", "Change the client CA certificate", Restart.REQUIRED, THREE_MINUTES, _CLIENT_CA),
    RestartRule(
        "change-crl",
        "Set, change or remove the client certificate revocation list",
        Restart.REQUIRED,
        THREE_MINUTES,
        _CLIENT_CA,
    ),
    RestartRule(
        "disable-client-ca",
        "Disable the client CA certificate",
        Restart.UNKNOWN,
        THREE_MINUTES,
        f'"{_CLIENT_CA_DOC}" documents enabling and changing the client CA (about 3 minutes), not disabling it '
        "(zh: 更新证书会重启实例): counted as a restart of the same length",
    ),
    RestartRule("change-acl", "Change the client certificate ACL", Restart.UNKNOWN, ONE_MINUTE, _ACL),
    RestartRule(
        "change-replication-acl",
        "Change the replication ACL",
        Restart.UNKNOWN,
        ONE_MINUTE,
        f"{_ACL} (the replication ACL is set the same way)",
    ),
    RestartRule(
        "unclassified",
        "A change no row describes",
        Restart.UNKNOWN,
        THREE_MINUTES,
        "undocumented: counted as a restart of the longest documented length (about 3 minutes)",
    ),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}

#: The longest restart any row estimates: a restart window must be at least this long (spec loader).
RESTART_SECONDS = max(rule.estimated_seconds for rule in RULES)


def rule(rule_id: str) -> RestartRule:
    return RULES_BY_ID.get(rule_id, RULES_BY_ID["unclassified"])

"""Which SSL changes restart an instance: one table, each row citing its source.

Alibaba Cloud documents restarts for some operations and is silent on others. A silent row is
``UNKNOWN``, and UNKNOWN counts as a restart everywhere (summary, policy, ``--max-restarts``) while the
plan says it is undocumented: a reviewer would rather be warned of a restart that does not happen than
surprised by one that does. A change that matches no row is ``UNKNOWN`` for the same reason.

Sources (see also ``../shared/reference/rds-ssl-api.md`` §3):

* [seed] "Configure a custom certificate" (RDS PostgreSQL): configuring a custom certificate, modifying an
  existing custom certificate and disabling SSL "trigger an RDS instance restart, which takes about 3
  minutes".
* [cloud-cert-zh] the zh cloud-certificate guide: "开启云端证书、更改云端证书保护的连接地址或关闭SSL链路加密,
  将会重启" (enabling the cloud certificate, changing the endpoint it protects, or disabling SSL restarts).
* [client-ca] "Configure a client CA certificate": enabling a client CA, changing its content and modifying
  the CRL restart the instance, "approximately 3 minutes"; the instance shows "Modifying SSL" meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: The documented restart duration ("about 3 minutes"): the plan's estimate per restart.
RESTART_SECONDS = 180


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
    id: str
    operation: str
    restart: Restart
    source: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "operation": self.operation, "restart": self.restart.value, "source": self.source}


_SEED = "[seed] Configure a custom certificate on RDS PostgreSQL: restarts, about 3 minutes"
_CLOUD_ZH = "[cloud-cert-zh] 开启云端证书、更改云端证书保护的连接地址或关闭SSL链路加密, 将会重启"
_CLIENT_CA = "[client-ca] Configure a client CA certificate: restarts, approximately 3 minutes"
_UNDOCUMENTED = "undocumented: counted as a restart"

RULES: tuple[RestartRule, ...] = (
    RestartRule("enable-ssl-cloud-cert", "Enable SSL with the cloud certificate", Restart.REQUIRED, _CLOUD_ZH),
    RestartRule(
        "change-cloud-cert-endpoint", "Change the endpoint the cloud certificate protects", Restart.REQUIRED, _CLOUD_ZH
    ),
    RestartRule("disable-ssl", "Disable SSL", Restart.REQUIRED, f"{_SEED}; {_CLOUD_ZH}"),
    RestartRule("configure-custom-cert", "Configure a custom certificate", Restart.REQUIRED, _SEED),
    RestartRule(
        "modify-custom-cert", "Modify the custom certificate (certificate, key or endpoints)", Restart.REQUIRED, _SEED
    ),
    RestartRule(
        "switch-to-cloud-cert",
        "Switch from a custom to the cloud certificate",
        Restart.REQUIRED,
        f"{_CLOUD_ZH} (it is enabling the cloud certificate)",
    ),
    RestartRule(
        "renew-cloud-cert",
        "Renew the cloud certificate (SSLEnabled=1 with CAType=aliyun again)",
        Restart.REQUIRED,
        f"{_CLOUD_ZH} (inferred: the renewal request is the enabling request; rds-ssl-api.md §5 'It restarts')",
    ),
    RestartRule("enable-client-ca", "Enable the client CA certificate", Restart.REQUIRED, _CLIENT_CA),
    RestartRule("change-client-ca", "Change the client CA certificate", Restart.REQUIRED, _CLIENT_CA),
    RestartRule(
        "change-crl", "Set, change or remove the client certificate revocation list", Restart.REQUIRED, _CLIENT_CA
    ),
    RestartRule(
        "disable-client-ca",
        "Disable the client CA certificate",
        Restart.UNKNOWN,
        f"{_UNDOCUMENTED} (zh: 更新证书会重启实例)",
    ),
    RestartRule("change-acl", "Change the client certificate ACL", Restart.UNKNOWN, _UNDOCUMENTED),
    RestartRule("change-replication-acl", "Change the replication ACL", Restart.UNKNOWN, _UNDOCUMENTED),
    RestartRule("unclassified", "A change no row describes", Restart.UNKNOWN, _UNDOCUMENTED),
)

RULES_BY_ID = {rule.id: rule for rule in RULES}


def rule(rule_id: str) -> RestartRule:
    return RULES_BY_ID.get(rule_id, RULES_BY_ID["unclassified"])

"""Can this instance carry SSL at all, and can it be changed right now?

The prerequisites are those of "Configure SSL encryption for an ApsaraDB RDS for PostgreSQL instance"
and "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance".

Two questions with different consequences. :func:`can_carry_ssl` (engine, version, disks, billing, instance
role) is permanent: the reader does not even ask such an instance for its SSL state.

Read-only instances are managed like primaries, with the same prerequisites (PostgreSQL 10 or later, cloud
disks, not Serverless): the provider's PostgreSQL read-only acceptance test
(aliyun/terraform-provider-alicloud ``alicloud/resource_alicloud_db_readonly_instance_test.go``) enables SSL,
a client CA, a CRL and ACLs on a replica against the real cloud. Guard (disaster-recovery) and Temp
(temporary, for a restore) instances stay ineligible: nothing public shows SSL on them, and a Temp instance
goes away on its own. :func:`blockers` adds what
must hold for a change now (unlocked, Running); the plan reports any of them as ``ineligible``
with the reason, so a reviewer knows why nothing will happen.
"""

from __future__ import annotations

from rdsssl_reconcile.live.model import InstanceFacts

MIN_MAJOR_VERSION = 10
VERIFY_FULL_MIN_MAJOR_VERSION = 12
#: ``DBInstanceType`` values this tool manages (DescribeDBInstances: Primary, Readonly, Guard, Temp).
MANAGED_INSTANCE_TYPES = frozenset({"Primary", "Readonly"})
LOCAL_DISKS = frozenset({"local_ssd", "ephemeral_ssd", "local_hdd"})


def major_version(facts: InstanceFacts) -> float | None:
    try:
        return float(facts.engine_version)
    except ValueError:
        return None


def is_cloud_disk(storage_type: str) -> bool:
    return storage_type.startswith("cloud_") or storage_type == "general_essd"


def is_serverless(facts: InstanceFacts) -> bool:
    return "serverless" in facts.pay_type.lower() or "serverless" in facts.category.lower()


def permanent_blockers(facts: InstanceFacts) -> tuple[str, ...]:
    reasons = []
    if facts.engine != "PostgreSQL":
        reasons.append(f"engine is {facts.engine or 'unknown'}; this tool manages RDS for PostgreSQL")
    else:
        version = major_version(facts)
        if version is None or version < MIN_MAJOR_VERSION:
            reasons.append(f"PostgreSQL {facts.engine_version}: SSL needs PostgreSQL {MIN_MAJOR_VERSION} or later")
    if facts.storage_type in LOCAL_DISKS or not is_cloud_disk(facts.storage_type):
        reasons.append(f"storage is {facts.storage_type or 'unknown'}: SSL needs cloud disks (ESSD or SSD)")
    if is_serverless(facts):
        reasons.append(f"Serverless instance (PayType {facts.pay_type}, Category {facts.category}): not supported")
    if facts.instance_type and facts.instance_type not in MANAGED_INSTANCE_TYPES:
        reasons.append(
            f"{facts.instance_type} instance: only primary and read-only instances are managed "
            "(nothing public shows SSL on Guard or Temp instances)"
        )
    return tuple(reasons)


def can_carry_ssl(facts: InstanceFacts) -> bool:
    return not permanent_blockers(facts)


def blockers(facts: InstanceFacts) -> tuple[str, ...]:
    reasons = list(permanent_blockers(facts))
    if facts.lock_mode and facts.lock_mode != "Unlock":
        reasons.append(f"instance is locked ({facts.lock_mode})")
    if facts.status != "Running":
        reasons.append(f"status is {facts.status or 'unknown'}, not Running: plan again when it is Running")
    return tuple(reasons)

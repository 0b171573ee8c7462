"""Can this instance carry SSL at all, and can it be changed right now? (reference §4)

Two questions with different consequences. :func:`can_carry_ssl` (engine, version, disks, billing, primary) is
permanent: the reader does not even ask such an instance for its SSL state. :func:`blockers` adds what
must hold for a change now (unlocked, Running); the plan reports any of them as ``ineligible``
with the reason, so a reviewer knows why nothing will happen.
"""

from __future__ import annotations

from rdsssl_reconcile.live.model import InstanceFacts

MIN_MAJOR_VERSION = 10
VERIFY_FULL_MIN_MAJOR_VERSION = 12
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
    if facts.instance_type and facts.instance_type != "Primary":
        # Permanent too: the emulator (like, we assume, RDS) refuses to describe a read-only instance's SSL.
        reasons.append(
            f"{facts.instance_type} instance: only primary instances are managed (read-only SSL is undocumented)"
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

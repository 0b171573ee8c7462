"""The emulated RDS: instance state and the rules of the five actions. No HTTP, no wire names.

Shaped like a moto backend (``moto/acm/models.py``): verbs that take typed requests and return frozen
values or raise :class:`ServiceError`. The clock, the settings and the persistence hook come in through
the constructor so tests drive time and restarts without sleeping.

Concurrency: one re-entrant lock guards all state. ModifyDBInstanceSSL checks and commits under it, so two
clients modifying one instance at the same moment get exactly one acceptance; the slow part of a cloud
certificate (generating its key) happens *before* taking the lock, so a modify does not stall readers.

Time: an accepted modify stores an absolute ``busy_until`` and is settled lazily whenever the instance is
read (moto's ``CertBundle.check``). Nothing runs in the background, a restarted emulator settles the same
way the original would have, and advancing the business clock completes a modify deterministically.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from rdsssl_reconcile.errors import PemError, UserError
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from rdsssl_reconcile.pki.pem import PrivateKey, load_certificate, load_private_key

from .certificates import (
    certificate_hosts_covered,
    certificate_not_after,
    certificate_problem,
    crl_problem,
    issue_cloud_certificate,
    new_emulated_ca,
    server_pair_problem,
)
from .clock import BusinessClock
from .errors import ServiceError, instance_not_found
from .fleet import FleetError, did_you_mean, instance_to_entry, iso_z, parse_entries, parse_ssl_state, ssl_to_entry
from .models import (
    ACL_VALUES,
    LOCAL_DISK_STORAGE,
    MODIFY_FAILED_REASON,
    MODIFY_REASON,
    Instance,
    Modification,
    Outcome,
    PendingModify,
    SslState,
)
from .settings import EmulatorSettings

STATE_FORMAT = "rdsssl-reconcile-emulator-state"
STATE_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ModifySslRequest:
    """ModifyDBInstanceSSL's PostgreSQL parameters, as raw strings: judging them is the backend's job."""

    instance_id: str
    connection_string: str
    ssl_enabled: str | None = None
    ca_type: str | None = None
    server_cert: str | None = None
    server_key: str | None = field(default=None, repr=False)
    client_ca_enabled: str | None = None
    client_ca_cert: str | None = None
    client_crl_enabled: str | None = None
    client_crl: str | None = None
    acl: str | None = None
    replication_acl: str | None = None

    @property
    def touches_server(self) -> bool:
        """It enables SSL or names the server certificate (``CAType``, ``ServerCert``, ``ServerKey``)."""
        return self.ssl_enabled == "1" or any(v is not None for v in (self.ca_type, self.server_cert, self.server_key))

    @property
    def touches_client(self) -> bool:
        """It changes the client CA, the CRL or an ACL."""
        return any(
            v is not None for v in (self.client_ca_enabled, self.client_crl_enabled, self.acl, self.replication_acl)
        )

    @property
    def acl_only(self) -> bool:
        """Only ``ACL``/``ReplicationACL`` change: about 1 minute busy ("Forcefully enable SSL connections")."""
        others = (
            self.ssl_enabled,
            self.ca_type,
            self.server_cert,
            self.server_key,
            self.client_ca_enabled,
            self.client_ca_cert,
            self.client_crl_enabled,
            self.client_crl,
        )
        return (self.acl is not None or self.replication_acl is not None) and all(v is None for v in others)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceFilter:
    """DescribeDBInstances filters; ``None`` means "any"."""

    engine: str | None = None
    instance_ids: tuple[str, ...] | None = None
    status: str | None = None
    instance_type: str | None = None
    engine_version: str | None = None
    pay_type: str | None = None
    category: str | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in dataclasses.fields(self))

    def matches(self, instance: Instance) -> bool:
        return (
            (self.engine is None or instance.engine.lower() == self.engine.lower())
            and (self.status is None or instance.status == self.status)
            and (self.instance_type is None or instance.instance_type == self.instance_type)
            and (self.engine_version is None or instance.engine_version == self.engine_version)
            and (self.pay_type is None or instance.pay_type == self.pay_type)
            and (self.category is None or instance.category == self.category)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RequireUpdate:
    """DescribeDBInstanceSSL's RequireUpdate trio."""

    required: bool
    item: str | None = None
    reason: str | None = None


def require_update(ssl: SslState, now: datetime, *, days: float) -> RequireUpdate:
    """``RequireUpdate=1`` when the server certificate is expired or expires within ``days``."""
    if not ssl.enabled or ssl.expires_at is None:
        return RequireUpdate(required=False)
    left = ssl.expires_at - now
    if left <= timedelta(0):
        return RequireUpdate(
            required=True, item="ServerCert", reason=f"The SSL certificate expired at {iso_z(ssl.expires_at)}."
        )
    if left <= timedelta(days=days):
        return RequireUpdate(
            required=True,
            item="ServerCert",
            reason=f"The SSL certificate expires at {iso_z(ssl.expires_at)}, within {days:g} days.",
        )
    return RequireUpdate(required=False)


OnChange = Callable[[str], None]  # receives the state serialised as JSON text


class ServerBacking(Protocol):
    """Real servers behind backed instances (``postgres.PostgresBacking``); the backend only tells it what
    to serve and asks whether a restart is over, so the busy window covers the real restart."""

    def reconfigure(self, instance_id: str, request_id: str, ssl: SslState) -> None: ...

    def restart_state(self, instance_id: str, request_id: str) -> str: ...  # pending | done | failed

    def sync(self, wanted: Mapping[str, SslState]) -> None: ...

    def address(self, instance_id: str) -> tuple[str, int] | None: ...


def served_ssl(instance: Instance) -> SslState:
    """What a backed instance's server serves: a modify in flight that will succeed is already written."""
    pending = instance.pending
    if pending is not None and pending.outcome is Outcome.SUCCESS:
        return pending.target
    return instance.ssl


class RdsBackend:
    """State and rules of the emulated RDS API."""

    def __init__(
        self,
        *,
        clock: BusinessClock,
        settings: EmulatorSettings | None = None,
        ca: CertificateAuthority | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self.clock = clock
        self._settings = settings or EmulatorSettings()
        self._lock = threading.RLock()
        self._ca = ca or new_emulated_ca(clock.now())
        self._on_change = on_change
        self._instances: dict[str, Instance] = {}
        self._by_region: dict[str, dict[str, None]] = {}
        self._readonly: dict[str, list[str]] = {}
        self._pending: set[str] = set()
        self._modifications: list[Modification] = []
        self._modification_index: dict[str, int] = {}
        self._fleet_key: PrivateKey | None = None
        self._order: dict[str, int] = {}
        self._sequence = itertools.count()
        self._change_seq = 0  # bumped by every acknowledged change
        self._saved_seq = 0  # the change last handed to on_change
        self._save_lock = threading.Lock()
        # instance id -> (the frozen Instance it was made from, its JSON text); used under the save lock
        # only. A save re-serialises just the instances that changed: ~10x faster on a 10,000-instance fleet.
        self._entry_cache: dict[str, tuple[Instance, str]] = {}
        #: Gateway state saved alongside (fault rules): called under the backend lock by every capture.
        self._extra_state: Callable[[], dict[str, Any]] | None = None
        #: What the last :meth:`restore` found beside the backend's own keys, for the gateway to load.
        self.restored_extra: dict[str, Any] = {}
        self._backing: ServerBacking | None = None

    # ----------------------------------------------------------------- configuration

    @property
    def settings(self) -> EmulatorSettings:
        return self._settings

    def update_settings(self, **changes: Any) -> EmulatorSettings:
        with self._lock:
            self._settings = self._settings.updated(**changes)
            return self._settings

    def replace_settings(self, settings: EmulatorSettings) -> None:
        with self._lock:
            self._settings = settings

    @property
    def ca_pem(self) -> str:
        return self._ca.cert_pem()

    def set_on_change(self, on_change: OnChange | None) -> None:
        """Persist through ``on_change`` from now on; the state at this moment counts as saved."""
        with self._lock:
            self._on_change = on_change
            self._saved_seq = self._change_seq

    def set_extra_state(self, provider: Callable[[], dict[str, Any]] | None) -> None:
        """Save ``provider()``'s keys in every snapshot too (the gateway's fault rules)."""
        with self._lock:
            self._extra_state = provider

    def touch(self) -> None:
        """Something outside the backend that is saved with it (fault rules) changed: save it next time."""
        with self._lock:
            self._changed()

    # ----------------------------------------------------------------- real servers (backed instances)

    def set_backing(self, backing: ServerBacking | None) -> None:
        """Serve backed instances through ``backing`` from now on (starting their servers now)."""
        with self._lock:
            self._backing = backing
            self._sync_backing()

    @property
    def backing(self) -> ServerBacking | None:
        return self._backing

    def mark_backed(self, instance_ids: Iterable[str]) -> None:
        """Make these instances backed (``--backed``); an unknown id is a :class:`UserError` naming it."""
        with self._lock:
            ids = tuple(instance_ids)
            unknown = [i for i in ids if i not in self._instances]
            if unknown:
                names = "; ".join(f"{i!r}{did_you_mean(i, self._instances)}" for i in unknown)
                raise UserError(f"--backed: no instance {names} in the fleet")
            for instance_id in ids:
                if not self._instances[instance_id].backed:
                    self._store(replace(self._instances[instance_id], backed=True))
            self._changed()
            self._sync_backing()

    def backed_address(self, instance_id: str) -> tuple[str, int] | None:
        """Where a backed instance's server listens (DescribeDBInstanceNetInfo reports its port)."""
        backing = self._backing
        return None if backing is None else backing.address(instance_id)

    def _sync_backing(self) -> None:
        if self._backing is not None:
            self._backing.sync({i.id: served_ssl(i) for i in self._instances.values() if i.backed})

    # ----------------------------------------------------------------- fleet management (admin)

    def reset(self, instances: Iterable[Instance] = (), *, clock_offset_seconds: float = 0.0) -> None:
        """Forget everything and load ``instances`` (the business clock goes back to real time)."""
        with self._lock:
            self.clock.reset(clock_offset_seconds)
            self._instances.clear()
            self._order.clear()
            self._by_region.clear()
            self._readonly.clear()
            self._pending.clear()
            self._modifications.clear()
            self._modification_index.clear()
            self._add(instances)
            self._changed()
            self._sync_backing()

    def add_instances(self, instances: Iterable[Instance]) -> tuple[str, ...]:
        with self._lock:
            instances = tuple(instances)
            clashes = [i.id for i in instances if i.id in self._instances]
            if clashes:
                raise FleetError("add_instances", [f"instance {i!r} already exists" for i in clashes])
            added = self._add(instances)
            self._changed()
            self._sync_backing()
            return added

    def _add(self, instances: Iterable[Instance]) -> tuple[str, ...]:
        added = []
        for instance in instances:
            instance = self._materialize(instance)
            self._store(instance)
            added.append(instance.id)
        return tuple(added)

    def _store(self, instance: Instance) -> None:
        old = self._instances.get(instance.id)
        if old is not None and old.master_instance_id and old.master_instance_id in self._readonly:
            replicas = self._readonly[old.master_instance_id]
            if instance.id in replicas:
                replicas.remove(instance.id)
        if old is not None and old.region != instance.region:
            self._by_region.get(old.region, {}).pop(instance.id, None)
        self._instances[instance.id] = instance
        self._order.setdefault(instance.id, next(self._sequence))
        self._by_region.setdefault(instance.region, {})[instance.id] = None
        if instance.master_instance_id:
            self._readonly.setdefault(instance.master_instance_id, []).append(instance.id)
        if instance.pending is not None:
            self._pending.add(instance.id)
        else:
            self._pending.discard(instance.id)

    def _materialize(self, instance: Instance) -> Instance:
        """Issue the cloud certificate a fleet asked for without giving PEM."""
        ssl = instance.ssl
        if not ssl.enabled or ssl.ca_type != "aliyun" or ssl.server_cert is not None:
            return instance
        if self._fleet_key is None:
            # One key for every fleet-seeded certificate: a 10,000-instance fleet would otherwise spend
            # minutes generating RSA keys. Certificates issued by ModifyDBInstanceSSL get their own key.
            self._fleet_key = KeyType(self._settings.cloud_key_type).generate()
        issued = issue_cloud_certificate(
            self._ca,
            ssl.endpoints[0],
            issued_at=ssl.issued_at or self.clock.now(),
            expires_at=ssl.expires_at,
            days=self._settings.cloud_cert_days,
            key=self._fleet_key,
        )
        return replace(
            instance,
            ssl=replace(
                ssl,
                server_cert=issued.cert_pem,
                server_key=issued.key_pem,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
            ),
        )

    def set_instance(self, instance_id: str, changes: dict[str, Any]) -> Instance:
        """Edit an instance behind the API's back (no restart): fleet-format keys, ``ssl`` replaced whole.

        ``pending: None`` cancels a modify in progress (a "never finishes" fault, for example).
        """
        with self._lock:
            current = self._get(instance_id)
            changes = dict(changes)
            cancel = "pending" in changes
            if cancel and changes.pop("pending") is not None:
                raise FleetError(f"set_instance({instance_id})", ["pending: only null (cancel) can be set"])
            if changes.get("id", instance_id) != instance_id:
                raise FleetError(f"set_instance({instance_id})", ["id: an instance's id cannot change"])
            entry = instance_to_entry(current, secrets=True)
            entry.update(changes)
            (updated,) = parse_entries([entry], source=f"set_instance({instance_id})", now=self.clock.now())
            updated = self._materialize(updated)
            updated = replace(updated, pending=None if cancel else current.pending)
            if cancel and current.pending is not None:
                self._finish(current.pending.request_id, self.clock.now(), "cancelled")
            self._store(updated)
            self._changed()
            self._sync_backing()  # an edit behind the API's back: the real server follows it (a restart)
            return updated

    # ----------------------------------------------------------------- clock (admin)

    def advance_clock(self, seconds: float) -> datetime:
        """Raises ValueError for a move that a state file could not hold (NaN, beyond a century)."""
        with self._lock:
            if not math.isfinite(seconds) or abs(self.clock.offset_seconds + seconds) > MAX_CLOCK_OFFSET_SECONDS:
                raise ValueError(f"advance_seconds must keep the clock within a century of real time (got {seconds!r})")
            now = self.clock.advance(seconds)
            self._changed()
            return now

    def set_clock(self, when: datetime) -> datetime:
        with self._lock:
            if when.tzinfo is not None and abs((when - self.clock.now()).total_seconds()) > MAX_CLOCK_OFFSET_SECONDS:
                raise ValueError(f"set must be within a century of real time (got {when.isoformat()})")
            now = self.clock.set(when)
            self._changed()
            return now

    # ----------------------------------------------------------------- reads

    def get_instance(self, instance_id: str) -> Instance:
        """The settled instance, or ``InvalidDBInstanceId.NotFound`` (404, the Describe actions' variant)."""
        with self._lock:
            return self._get(instance_id)

    def _get(self, instance_id: str, *, modify: bool = False) -> Instance:
        instance = self._instances.get(instance_id)
        if instance is None:
            raise instance_not_found(modify=modify)
        if instance.pending is not None:
            instance = self._settle(instance, self.clock.now())
        if instance.pending is None and self._settings.cloud_cert_auto_renew_days is not None:
            instance = self._auto_renew(instance, self.clock.now())
        return instance

    def _auto_renew(self, instance: Instance, now: datetime) -> Instance:
        """Alibaba Cloud's own renewal of a cloud certificate (``cloud_cert_auto_renew_days``), lazily on read.

        Issued at the scheduled moment (``expires_at`` minus the setting) of business time, not at the read,
        and again for every period a clock jump skipped, so the answer does not depend on when anyone looked.
        """
        ssl = instance.ssl
        days = self._settings.cloud_cert_auto_renew_days
        if days is None or not ssl.enabled or ssl.ca_type != "aliyun" or ssl.expires_at is None or not ssl.endpoints:
            return instance
        lead = timedelta(days=days)
        renew_at = ssl.expires_at - lead
        if now < renew_at:
            return instance
        # Each renewal lasts cloud_cert_days and is renewed `lead` before its end: one period per renewal.
        period = timedelta(days=self._settings.cloud_cert_days) - lead
        issued_at = renew_at + period * ((now - renew_at) // period)
        issued = issue_cloud_certificate(
            self._ca,
            ssl.endpoints[0],
            issued_at=issued_at,
            days=self._settings.cloud_cert_days,
            key=KeyType(self._settings.cloud_key_type).generate(),
        )
        renewed = replace(
            instance,
            ssl=replace(
                ssl,
                server_cert=issued.cert_pem,
                server_key=issued.key_pem,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
            ),
        )
        self._store(renewed)
        self._changed()
        return renewed

    def instance_ids(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._instances)

    def readonly_ids(self, master_id: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._readonly.get(master_id, ()))

    def describe_instances(
        self, *, region: str, filters: InstanceFilter, offset: int, limit: int, count_total: bool = True
    ) -> tuple[tuple[Instance, ...], int]:
        """One page of a region's instances in fleet order, and the number matching in total.

        Pages are taken from an iterator, so page N of 10,000 instances copies only N's items.
        """
        with self._lock:
            self._settle_all()
            candidates = self._candidates(region, filters)
            matching = (i for i in candidates if filters.matches(i))
            page = tuple(itertools.islice(matching, offset, offset + limit))
            if not count_total:
                return page, len(page)
            if filters.is_empty:
                total = len(self._by_region.get(region, ()))
            else:
                total = sum(1 for i in self._candidates(region, filters) if filters.matches(i))
            return page, total

    def _candidates(self, region: str, filters: InstanceFilter) -> Iterator[Instance]:
        in_region = self._by_region.get(region, {})
        if filters.instance_ids is not None:
            wanted = sorted({i for i in filters.instance_ids if i in in_region}, key=self._order.__getitem__)
            return (self._instances[i] for i in wanted)
        return (self._instances[i] for i in in_region)

    def describe_ssl(self, instance_id: str) -> tuple[Instance, datetime]:
        """The settled instance for DescribeDBInstanceSSL (eligibility checked, as for a modify) and the time read."""
        with self._lock:
            instance = self._get(instance_id)
            self._check_eligible(instance)
            return instance, self.clock.now()

    def reported_endpoints(self, ssl: SslState) -> str:
        """DescribeDBInstanceSSL's ``ConnectionString`` under the ``connection_string_format`` reading.

        ``comma``/``semicolon`` join the endpoints a modify named; ``certificate-sans`` reports the one
        endpoint the modify named (the protected hosts are the certificate's business: :meth:`protected_hosts`).
        """
        if not ssl.enabled or not ssl.endpoints:
            return ""
        separator = self._settings.endpoint_separator
        return ssl.endpoints[0] if separator is None else separator.join(ssl.endpoints)

    def protected_hosts(self, instance: Instance) -> tuple[str, ...]:
        """The endpoints SSL protects (the console's "Protected Host" records), under every reading.

        A cloud certificate is made for the one endpoint named. A custom certificate is the one the server
        presents on every endpoint, so it protects the endpoints named and every other endpoint of the
        instance its SANs cover: the readings differ in how endpoints are written, not in what is protected.
        """
        ssl = instance.ssl
        if not ssl.enabled:
            return ()
        if ssl.ca_type == "custom" and ssl.server_cert:
            candidates = [e.host for e in instance.endpoints if not e.is_read_write_splitting]
            covered = certificate_hosts_covered(ssl.server_cert, candidates)
            return tuple(dict.fromkeys((*ssl.endpoints, *covered)))
        return ssl.endpoints

    def modifications(self) -> tuple[Modification, ...]:
        with self._lock:
            self._settle_all()
            return tuple(self._modifications)

    # ----------------------------------------------------------------- ModifyDBInstanceSSL

    def modify_ssl(
        self,
        request: ModifySslRequest,
        *,
        request_id: str,
        choose_outcome: Callable[[], Outcome] = lambda: Outcome.SUCCESS,
    ) -> Modification:
        """Validate and accept a modify: busy now, the new configuration visible when the restart ends.

        ``choose_outcome`` is asked only once the request is accepted, so a "fail"/"never" fault rule is
        not used up by a request that was refused anyway.
        """
        fresh_key: PrivateKey | None = None
        names_a_custom_pair = request.server_cert is not None or request.server_key is not None
        if request.touches_server and (
            request.ca_type == "aliyun" or (request.ca_type is None and not names_a_custom_pair)
        ):
            fresh_key = KeyType(self._settings.cloud_key_type).generate()  # outside the lock: RSA is slow
        with self._lock:
            instance = self._get(request.instance_id, modify=True)
            self._check_eligible(instance)
            if instance.lock_mode != "Unlock":
                raise ServiceError.of("IncorrectDBInstanceLockMode")
            if instance.pending is not None or instance.last_modify_status == "setting":
                raise ServiceError.of("IncorrectDBSslStatus")
            if instance.status != "Running":
                raise ServiceError.of(self._settings.not_running_error)
            now = self.clock.now()
            target = self._target_state(instance, request, now, fresh_key)
            outcome = choose_outcome()
            busy = self._settings.acl_busy_seconds if request.acl_only else self._settings.restart_seconds
            busy_until = now + timedelta(seconds=busy)
            pending = PendingModify(
                request_id=request_id, accepted_at=now, busy_until=busy_until, target=target, outcome=outcome
            )
            self._store(
                replace(
                    instance,
                    status=self._settings.busy_status,
                    last_modify_status="setting",
                    modify_status_reason=MODIFY_REASON,
                    pending=pending,
                )
            )
            modification = Modification(
                instance_id=instance.id,
                request_id=request_id,
                accepted_at=now,
                busy_until=busy_until,
                planned_outcome=outcome,
            )
            self._modification_index[request_id] = len(self._modifications)
            self._modifications.append(modification)
            self._changed()
            if instance.backed and self._backing is not None and outcome is not Outcome.NEVER:
                # The real restart starts now; the instance stays busy until it is over (see _settle).
                served = target if outcome is Outcome.SUCCESS else instance.ssl
                self._backing.reconfigure(instance.id, request_id, served)
            return modification

    def _check_eligible(self, instance: Instance) -> None:
        """PostgreSQL 10+ on cloud disks, not Serverless; the same for read-only instances (unless settings)."""
        if instance.engine.lower() != "postgresql":
            raise ServiceError.of("InstanceEngineType.NotSupport")
        version = instance.major_version
        if version is None or version < 10:
            raise ServiceError.of("IncorrectEngineVersion")
        if instance.storage_type in LOCAL_DISK_STORAGE:
            raise ServiceError.of("OperationDenied.DBInstanceType")
        if instance.storage_type == "cloud_ssd" and not self._settings.cloud_ssd_supported:
            raise ServiceError.of("CloudSSDNotSupport")
        if instance.is_serverless:
            raise ServiceError.of("InvalidInstanceLevel.Malformed")
        if instance.instance_type != "Primary" and not self._settings.readonly_ssl_supported:
            raise ServiceError.of("OperationDenied.DBInstanceType")

    def _target_state(
        self, instance: Instance, request: ModifySslRequest, now: datetime, fresh_key: PrivateKey | None
    ) -> SslState:
        """The SSL configuration the instance will have when this modify completes.

        A request changes only what it carries (the provider's acceptance tests send a client CA alone, the
        ACLs alone: ``alicloud/resource_alicloud_db_readonly_instance_test.go``): with ``SSLEnabled``
        absent, a request without server-certificate parameters keeps the certificate and the protected
        endpoints (its ``ConnectionString`` must still name an endpoint of the instance), and one without
        client parameters keeps the client CA, the CRL and the ACLs.
        """
        current = instance.ssl
        enabled = request.ssl_enabled
        if enabled is not None and enabled not in ("0", "1"):
            raise ServiceError.of("InvalidSSLStatus")
        for flag in (request.client_ca_enabled, request.client_crl_enabled):
            if flag is not None and flag not in ("0", "1"):
                raise ServiceError.of("Parameters.Invalid")
        for acl in (request.acl, request.replication_acl):
            if acl is not None and acl not in ACL_VALUES:
                raise ServiceError.of("InvalidACL.NotFound")

        if enabled == "0":
            self._protected_endpoints(instance, request.connection_string, allow_list=current.ca_type == "custom")
            if (
                request.client_ca_enabled == "1"
                or request.client_crl_enabled == "1"
                or request.acl
                or request.replication_acl
            ):
                raise ServiceError.of("IncorrectDBSslStatus")
            return SslState()

        if enabled is None and not current.enabled:
            if request.touches_server or request.touches_client:
                raise ServiceError.of("IncorrectDBSslStatus")
            self._protected_endpoints(instance, request.connection_string, allow_list=False)
            return current  # a no-op modify: accepted, and it restarts anyway (undocumented: docs/emulator.md, Open questions)

        if request.touches_server:
            # With SSLEnabled absent the certificate type stays as it is unless CAType says otherwise; with
            # SSLEnabled=1 a missing CAType means aliyun (the API page's English text).
            default_ca = current.ca_type if enabled is None else None
            server = self._server_state(instance, request, now, fresh_key, default_ca=default_ca)
        else:
            self._protected_endpoints(instance, request.connection_string, allow_list=current.ca_type == "custom")
            server = current
        return self._client_state(instance, request, server, keep=current if current.enabled else SslState())

    def _server_state(
        self,
        instance: Instance,
        request: ModifySslRequest,
        now: datetime,
        fresh_key: PrivateKey | None,
        *,
        default_ca: str | None,
    ) -> SslState:
        ca_type = request.ca_type or default_ca
        if ca_type is None:
            if self._settings.strict_ca_type:
                raise ServiceError.of("RequiredParam.NotFound")
            ca_type = "aliyun"
        if ca_type not in ("aliyun", "custom"):
            raise ServiceError.of("InvalidCAType.NotFound")
        if ca_type == "aliyun":
            (host,) = self._protected_endpoints(instance, request.connection_string, allow_list=False)
            issued = issue_cloud_certificate(
                self._ca,
                host,
                issued_at=now,
                days=self._settings.cloud_cert_days,
                key=fresh_key or KeyType(self._settings.cloud_key_type).generate(),
            )
            return SslState(
                enabled=True,
                ca_type="aliyun",
                endpoints=(host,),
                server_cert=issued.cert_pem,
                server_key=issued.key_pem,
                issued_at=issued.issued_at,
                expires_at=issued.expires_at,
            )
        hosts = self._protected_endpoints(instance, request.connection_string, allow_list=True)
        if server_pair_problem(
            request.server_cert,
            request.server_key,
            endpoints=hosts,
            check_hostname=self._settings.check_custom_cert_hostname,
        ):
            raise ServiceError.of("InvalidServerCertOrPrivateKey")
        assert request.server_cert is not None
        return SslState(
            enabled=True,
            ca_type="custom",
            endpoints=hosts,
            server_cert=request.server_cert,
            server_key=request.server_key,
            issued_at=now.replace(microsecond=0),
            expires_at=certificate_not_after(request.server_cert),
        )

    def _client_state(
        self, instance: Instance, request: ModifySslRequest, server: SslState, keep: SslState
    ) -> SslState:
        client_ca, crl, acl, replication_acl = keep.client_ca_cert, keep.crl, keep.acl, keep.replication_acl
        if request.client_ca_enabled == "0":
            client_ca = crl = acl = replication_acl = None
        elif request.client_ca_enabled == "1":
            if certificate_problem(request.client_ca_cert, what="client CA certificate"):
                raise ServiceError.of("InvalidClientCACert")
            client_ca = request.client_ca_cert
        if request.client_crl_enabled == "1":
            if client_ca is None:
                raise ServiceError.of("InvalidClientCrl.Permission")
            if crl_problem(request.client_crl):
                raise ServiceError.of("InvalidClientCrl")
            crl = request.client_crl
        elif request.client_crl_enabled == "0":
            crl = None
        for value in (request.acl, request.replication_acl):
            if value is None:
                continue
            if client_ca is None:
                raise ServiceError.of("InvalidACL.Permission")
            version = instance.major_version
            if value == "verify-full" and (version is None or version < 12):
                raise ServiceError.of("IncorrectEngineVersion")
        if request.acl is not None:
            acl = request.acl
        if request.replication_acl is not None:
            replication_acl = request.replication_acl
        return replace(server, client_ca_cert=client_ca, crl=crl, acl=acl, replication_acl=replication_acl)

    def _protected_endpoints(self, instance: Instance, connection_string: str, *, allow_list: bool) -> tuple[str, ...]:
        """The endpoints a ConnectionString names: one, or (custom certificates) a list.

        The list separator is the ``connection_string_format`` reading's (``,`` or ``;``); under
        ``certificate-sans`` there is none, so a list is one name that matches no endpoint. An unknown
        endpoint is ``Endpoint.NotFound`` (the API page "ModifyDBInstanceSSL"); the read/write-splitting
        endpoint, which SSL cannot protect, is refused with ``rw_splitting_error``.
        """
        separator = self._settings.endpoint_separator if allow_list else None
        names = [n.strip() for n in connection_string.split(separator)] if separator else [connection_string.strip()]
        hosts: list[str] = []
        for name in names:
            endpoint = instance.endpoint(name) if name else None
            if endpoint is None:
                raise ServiceError.of("Endpoint.NotFound")
            if endpoint.is_read_write_splitting:
                raise ServiceError.of(self._settings.rw_splitting_error)
            if endpoint.host not in hosts:
                hosts.append(endpoint.host)
        return tuple(hosts)

    # ----------------------------------------------------------------- settling

    def _settle(self, instance: Instance, now: datetime) -> Instance:
        pending = instance.pending
        if pending is None or pending.outcome is Outcome.NEVER or now < pending.busy_until:
            return instance
        outcome = pending.outcome
        if instance.backed and self._backing is not None:
            restart = self._backing.restart_state(instance.id, pending.request_id)
            if restart == "pending":
                return instance  # busy until the real server accepts again
            if restart == "failed":
                outcome = Outcome.FAILED  # the server refused the new settings and runs the old ones
        if outcome is Outcome.SUCCESS:
            settled = replace(
                instance, ssl=pending.target, status="Running", last_modify_status="success", pending=None
            )
        elif outcome is Outcome.IGNORED:
            settled = replace(instance, status="Running", last_modify_status="success", pending=None)
        else:
            settled = replace(
                instance,
                status="Running",
                last_modify_status="failed",
                modify_status_reason=MODIFY_FAILED_REASON,
                pending=None,
            )
        self._store(settled)
        self._finish(pending.request_id, pending.busy_until, outcome.value)
        return settled

    def _settle_all(self) -> None:
        if self._pending:
            now = self.clock.now()
            for instance_id in tuple(self._pending):
                self._settle(self._instances[instance_id], now)

    def _finish(self, request_id: str, when: datetime, outcome: str) -> None:
        index = self._modification_index.get(request_id)
        if index is not None:
            self._modifications[index] = replace(self._modifications[index], finished_at=when, outcome=outcome)

    # ----------------------------------------------------------------- persistence

    def _changed(self) -> None:
        """Called under the lock by every acknowledged change; :meth:`persist` writes it out."""
        self._change_seq += 1

    def persist(self) -> None:
        """Hand the state to ``on_change`` if it changed since the last time.

        The app calls this after each request and before writing the response, so a change is on disk
        before the client hears of it (SIGKILL loses nothing acknowledged). The state is captured under
        the backend lock by reference only (instances and modifications are frozen), then serialised and
        written outside it: on a 10,000-instance fleet a save takes hundreds of milliseconds, which must
        not stall every reader. The save lock and the sequence number stop an older capture from
        overwriting a newer one.
        """
        on_change = self._on_change
        if on_change is None or self._change_seq == self._saved_seq:
            # The common case, a read: no lock. Safe without it: a thread that made a change sees its own
            # count, so every change is written before the response of the request that made it.
            return
        with self._lock:
            seq = self._change_seq
            if seq == self._saved_seq:
                return
            captured = self._capture()
        with self._save_lock:
            if seq <= self._saved_seq:
                return  # a newer capture was written meanwhile
            on_change(self._serialise(captured))
            self._saved_seq = seq

    def _capture(self) -> _Captured:
        return _Captured(
            clock_offset_seconds=self.clock.offset_seconds,
            ca=self._ca,
            instances=tuple(self._instances.values()),
            modifications=tuple(self._modifications),
            extra=self._extra_state() if self._extra_state is not None else {},
        )

    def serialised_snapshot(self) -> str:
        """Everything acknowledged as JSON text, *including private keys*: write it with mode 0600."""
        with self._lock:
            captured = self._capture()
        with self._save_lock:
            return self._serialise(captured)

    def _serialise(self, captured: _Captured) -> str:
        """The state as compact JSON text; the caller holds the save lock (it guards the entry cache)."""
        cache = self._entry_cache
        texts = []
        for instance in captured.instances:
            cached = cache.get(instance.id)
            if cached is None or cached[0] is not instance:
                entry = {
                    "entry": instance_to_entry(instance, secrets=True),
                    "pending": _pending_to_dict(instance.pending),
                }
                cached = (instance, _compact(entry))
                cache[instance.id] = cached
            texts.append(cached[1])
        if len(cache) > len(captured.instances):
            live = {i.id for i in captured.instances}
            for stale in [k for k in cache if k not in live]:
                del cache[stale]
        head = _compact(
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "clock_offset_seconds": captured.clock_offset_seconds,
                "ca": {"cert": captured.ca.cert_pem(), "key": captured.ca.key_pem()},
                "modifications": [
                    {**m.to_dict(), "planned_outcome": m.planned_outcome.value} for m in captured.modifications
                ],
                **captured.extra,
            }
        )
        return f'{head[:-1]},"instances":[{",".join(texts)}]}}'

    def restore(self, data: dict[str, Any], *, source: str) -> None:
        """Load a :meth:`serialised_snapshot`, parsed (a ``--state`` file).

        Every value is checked before anything is replaced, and a problem names its key path and what was
        expected (a state file is edited by hand in tests, and damaged by disks): raises :class:`FleetError`.
        Keys the backend does not own (``faults``) are left in :attr:`restored_extra` for the gateway.
        """
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT or data.get("version") != STATE_VERSION:
            raise FleetError(
                source, [f"not an emulator state file (expected format {STATE_FORMAT!r} v{STATE_VERSION})"]
            )
        state = _StateReader(source)
        offset = state.offset(data.get("clock_offset_seconds", 0.0))
        ca = state.ca(data.get("ca"))
        now = self.clock.now()
        records = data.get("instances")
        instances: list[Instance] = []
        if not isinstance(records, list) or not all(isinstance(r, dict) and "entry" in r for r in records):
            state.problem("instances", "expected a list of {entry: {...}, pending: ...}")
        else:
            try:
                entries = parse_entries([r["entry"] for r in records], source=source, now=now, path=("instances",))
            except FleetError as exc:
                state.problems.extend(exc.problems)
                entries = ()
            for index, (instance, record) in enumerate(zip(entries, records, strict=False)):
                pending = state.pending(record.get("pending"), instance, index, now=now)
                instances.append(replace(instance, pending=pending))
        modifications = state.modifications(data.get("modifications", []))
        state.raise_if_any()
        assert ca is not None
        assert offset is not None
        with self._lock:
            self._ca = ca
            self.reset(instances, clock_offset_seconds=offset)
            self._modifications.extend(modifications)
            self._modification_index.update({m.request_id: n for n, m in enumerate(self._modifications)})
            self.restored_extra = {k: v for k, v in data.items() if k in EXTRA_STATE_KEYS}


#: Keys of a state file that belong to the gateway, not the backend.
EXTRA_STATE_KEYS = ("faults",)
#: The business clock may be moved a century either way; further, dates stop being representable.
MAX_CLOCK_OFFSET_SECONDS = 100 * 366 * 86400.0


class _StateReader:
    """Checks the parts of a state file, collecting located problems (``key.path: expected ..., got ...``)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.problems:
            raise FleetError(self.source, ["damaged state file: " + p for p in self.problems])

    def offset(self, value: Any) -> float | None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or abs(value) > MAX_CLOCK_OFFSET_SECONDS
        ):
            self.problem(
                "clock_offset_seconds",
                f"expected a finite number of seconds within ±{MAX_CLOCK_OFFSET_SECONDS:.0f}, got {value!r}",
            )
            return None
        return float(value)

    def ca(self, value: Any) -> CertificateAuthority | None:
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("cert"), str)
            or not isinstance(value.get("key"), str)
        ):
            self.problem("ca", "expected {cert: PEM, key: PEM} (the emulated CA)")
            return None
        try:
            certificate = load_certificate(value["cert"])
        except (PemError, ValueError):
            self.problem("ca.cert", "expected a PEM certificate")
            return None
        try:
            key = load_private_key(value["key"]).key
        except (PemError, ValueError):
            self.problem("ca.key", "expected an unencrypted PEM private key (not shown)")
            return None
        return CertificateAuthority(certificate=certificate, private_key=key)

    def when(self, raw: Any, where: str) -> datetime | None:
        if isinstance(raw, str):
            try:
                value = datetime.fromisoformat(raw)
            except ValueError:
                pass
            else:
                if value.tzinfo is not None:
                    return value
        self.problem(where, f"expected an ISO 8601 time with a UTC offset, got {_shown(raw)}")
        return None

    def pending(self, raw: Any, instance: Instance, index: int, *, now: datetime) -> PendingModify | None:
        where = f"instances[{index}].pending"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problem(where, f"expected null or a mapping, got {_shown(raw)}")
            return None
        try:
            target = parse_ssl_state(raw.get("target"), endpoints=instance.endpoints, source=self.source, now=now)
        except FleetError as exc:
            self.problems.extend(f"{where}.target: {p}" for p in exc.problems)
            return None
        accepted = self.when(raw.get("accepted_at"), f"{where}.accepted_at")
        busy = self.when(raw.get("busy_until"), f"{where}.busy_until")
        outcome = self.outcome(raw.get("outcome"), f"{where}.outcome")
        request_id = raw.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            self.problem(f"{where}.request_id", f"expected a request id, got {_shown(request_id)}")
            return None
        if accepted is None or busy is None or outcome is None:
            return None
        return PendingModify(
            request_id=request_id, accepted_at=accepted, busy_until=busy, target=target, outcome=outcome
        )

    def outcome(self, raw: Any, where: str) -> Outcome | None:
        try:
            return Outcome(raw)
        except ValueError:
            self.problem(where, f"expected one of {', '.join(o.value for o in Outcome)}, got {_shown(raw)}")
            return None

    def modifications(self, raw: Any) -> list[Modification]:
        if not isinstance(raw, list):
            self.problem("modifications", f"expected a list, got {_shown(raw)}")
            return []
        found: list[Modification] = []
        for index, item in enumerate(raw):
            where = f"modifications[{index}]"
            if not isinstance(item, dict):
                self.problem(where, f"expected a mapping, got {_shown(item)}")
                continue
            accepted = self.when(item.get("accepted_at"), f"{where}.accepted_at")
            busy = self.when(item.get("busy_until"), f"{where}.busy_until")
            finished_raw = item.get("finished_at")
            finished = None if finished_raw is None else self.when(finished_raw, f"{where}.finished_at")
            planned = self.outcome(item.get("planned_outcome"), f"{where}.planned_outcome")
            texts = {key: item.get(key) for key in ("instance_id", "request_id", "outcome")}
            bad = [key for key, value in texts.items() if not isinstance(value, str)]
            for key in bad:
                self.problem(f"{where}.{key}", f"expected a string, got {_shown(texts[key])}")
            if accepted is None or busy is None or planned is None or bad or (finished_raw and finished is None):
                continue
            found.append(
                Modification(
                    instance_id=str(texts["instance_id"]),
                    request_id=str(texts["request_id"]),
                    accepted_at=accepted,
                    busy_until=busy,
                    planned_outcome=planned,
                    finished_at=finished,
                    outcome=str(texts["outcome"]),
                )
            )
        return found


def _shown(value: Any) -> str:
    """A value as a problem may quote it: short, and never PEM."""
    if isinstance(value, str) and "-----BEGIN" in value:
        return "<PEM text, not shown>"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:60]}..."


@dataclass(frozen=True, slots=True)
class _Captured:
    """The backend's state by reference: cheap to take under the lock, serialised outside it."""

    clock_offset_seconds: float
    ca: CertificateAuthority
    instances: tuple[Instance, ...]
    modifications: tuple[Modification, ...]
    extra: dict[str, Any]


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _pending_to_dict(pending: PendingModify | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    return {
        "request_id": pending.request_id,
        "accepted_at": pending.accepted_at.isoformat(),
        "busy_until": pending.busy_until.isoformat(),
        "outcome": pending.outcome.value,
        "target": ssl_to_entry(pending.target, secrets=True),
    }

"""The documented fleet format: YAML (or JSON) in, frozen :class:`Instance` values out, and back.

One shape serves four uses, so there is one parser: ``--fleet`` files, ``admin.add_instances`` and
``admin.set_instance`` entries, and the instances inside a ``--state`` file. Every key but ``id`` and
``region`` has a default (issue 2); unknown keys are errors, because a typo in a test fixture that is
silently ignored makes a test prove the wrong thing. Problems are collected, not raised one by one, and
each names the file, the key path and what was expected; PEM values are never quoted back.

Cloud certificates named in a fleet without PEM (``ssl: {enabled: true, ca_type: aliyun}``) are left
``None`` here and issued by the backend from its emulated CA: this module has no CA and no clock.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.errors import PemError, UserError
from rdsssl_reconcile.pki.pem import load_private_key
from rdsssl_reconcile.pki.summary import public_key_fingerprint

from .certificates import certificate_not_after, certificate_problem, crl_problem, server_pair_problem
from .models import ACL_VALUES, Endpoint, Instance, SslState

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ENGINES = ("PostgreSQL", "MySQL", "SQLServer", "MariaDB")
STORAGE_TYPES = (
    "cloud_essd",
    "cloud_essd2",
    "cloud_essd3",
    "cloud_ssd",
    "general_essd",
    "cloud_auto",
    "local_ssd",
    "ephemeral_ssd",
)
PAY_TYPES = ("Postpaid", "Prepaid", "Serverless")
INSTANCE_TYPES = ("Primary", "Readonly", "Guard", "Temp")
IP_TYPES = ("Private", "Public")
CONNECTION_STRING_TYPES = ("Normal", "ReadWriteSplitting")
CA_TYPES = ("aliyun", "custom")
MODIFY_STATUSES = ("success", "setting", "failed", "")

ENTRY_KEYS = (
    "id",
    "region",
    "zone_id",
    "engine",
    "engine_version",
    "instance_class",
    "storage_type",
    "storage_gb",
    "pay_type",
    "category",
    "instance_type",
    "master_instance_id",
    "status",
    "lock_mode",
    "description",
    "created_at",
    "endpoints",
    "ssl",
    "last_modify_status",
    "modify_status_reason",
    "backed",
)
SSL_KEYS = (
    "enabled",
    "ca_type",
    "endpoints",
    "endpoint",
    "server_cert",
    "server_key",
    "client_ca_cert",
    "crl",
    "acl",
    "replication_acl",
    "expires_at",
    "issued_at",
)
ENDPOINT_KEYS = ("host", "type", "port", "connection_string_type")

Path_ = tuple[str | int, ...]


class FleetError(UserError):
    """A fleet (file, admin entry or state file) that cannot be loaded; lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in the emulator fleet {source}:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing: a misspelt fixture key is named fixed."""
    match = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """``2027-01-31T08:16:43Z``: the API's time format (seconds, UTC)."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Reader:
    """Reads typed values out of plain data, collecting problems with their key paths."""

    base_dir: Path | None
    problems: list[str]
    locate: Callable[[Path_], int | None] | None = None

    def problem(self, path: Path_, message: str) -> None:
        line = self.locate(path) if self.locate is not None else None
        where = f"line {line}: " if line else ""
        self.problems.append(f"{where}{format_path(path)}: {message}")

    def mapping(self, value: Any, path: Path_, keys: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected a mapping, got {type(value).__name__}")
            return None
        for key in value:
            if key not in keys:
                hint = did_you_mean(str(key), keys)
                self.problem((*path, str(key)), f"unknown key{hint}; expected one of: {', '.join(keys)}")
        return value

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        path: Path_,
        default: str | None = None,
        *,
        choices: Sequence[str] | None = None,
        required: bool = False,
        allow_empty: bool = False,
    ) -> str | None:
        if key not in data or data[key] is None:
            if required:
                self.problem((*path, key), "is required")
            return default
        value = data[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, str | int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            shown = repr(value) if isinstance(value, float) or type(value).__name__ == "NonFiniteNumber" else None
            self.problem((*path, key), f"expected a string, got {shown or type(value).__name__}")
            return default
        text = str(value)
        if not text and not allow_empty:
            self.problem((*path, key), "must not be empty")
            return default
        if choices is not None and text not in choices:
            expected = ", ".join(repr(c) for c in choices)
            self.problem((*path, key), f"expected one of {expected}, got {text!r}{did_you_mean(text, choices)}")
            return default
        return text

    def integer(self, data: Mapping[str, Any], key: str, path: Path_, default: int, *, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem((*path, key), f"expected an integer from {low} to {high}, got {value!r}")
            return default
        return value

    def boolean(self, data: Mapping[str, Any], key: str, path: Path_, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.problem((*path, key), f"expected true or false, got {value!r}")
            return default
        return value

    def when(self, data: Mapping[str, Any], key: str, path: Path_) -> datetime | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            return _utc(value)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, str):
            try:
                return _utc(datetime.fromisoformat(value.strip()))
            except ValueError:
                pass
        self.problem((*path, key), f"expected an ISO 8601 time such as 2027-01-31T08:00:00Z, got {value!r}")
        return None

    def pem(self, data: Mapping[str, Any], key: str, path: Path_, *, secret: bool = False) -> str | None:
        """PEM text inline, or ``{file: PATH}`` relative to the fleet file. Never echoed in problems."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and set(value) == {"file"} and isinstance(value["file"], str):
            file = Path(value["file"])
            if not file.is_absolute() and self.base_dir is not None:
                file = self.base_dir / file
            try:
                return file.read_text(encoding="utf-8")
            except OSError as exc:
                self.problem((*path, key, "file"), f"cannot read {str(file)!r}: {exc.strerror or exc}")
                return None
        what = "private key" if secret else "PEM text"
        self.problem((*path, key), f"expected {what} (a string) or {{file: PATH}}, got {type(value).__name__}")
        return None


def _engine_version(reader: _Reader, data: Mapping[str, Any], path: Path_) -> str:
    value = data.get("engine_version", "15.0")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        reader.problem((*path, "engine_version"), f"expected a version such as '15.0', got {value!r}")
        return "15.0"
    text = str(value)
    if isinstance(value, int):
        text = f"{value}.0"
    if not text[:1].isdigit():
        reader.problem((*path, "engine_version"), f"expected a version such as '15.0', got {value!r}")
    return text


def _endpoints(reader: _Reader, data: Mapping[str, Any], path: Path_, instance_id: str) -> tuple[Endpoint, ...]:
    raw = data.get("endpoints")
    if raw is None:
        return (Endpoint(host=f"{instance_id}.pg.rds.aliyuncs.com"),)
    if not isinstance(raw, list) or not raw:
        reader.problem((*path, "endpoints"), "expected a non-empty list of {host, type, port}")
        return (Endpoint(host=f"{instance_id}.pg.rds.aliyuncs.com"),)
    endpoints: list[Endpoint] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        item_path = (*path, "endpoints", index)
        entry = reader.mapping(item, item_path, ENDPOINT_KEYS)
        if entry is None:
            continue
        host = reader.text(entry, "host", item_path, required=True)
        if host is None:
            continue
        if host.lower() in seen:
            reader.problem((*item_path, "host"), f"duplicate endpoint {host!r}")
            continue
        seen.add(host.lower())
        endpoints.append(
            Endpoint(
                host=host,
                ip_type=reader.text(entry, "type", item_path, "Private", choices=IP_TYPES) or "Private",
                port=reader.integer(entry, "port", item_path, 5432, low=1, high=65535),
                connection_string_type=reader.text(
                    entry, "connection_string_type", item_path, "Normal", choices=CONNECTION_STRING_TYPES
                )
                or "Normal",
            )
        )
    return tuple(endpoints) or (Endpoint(host=f"{instance_id}.pg.rds.aliyuncs.com"),)


def _ssl(reader: _Reader, raw: Any, path: Path_, endpoints: tuple[Endpoint, ...], *, now: datetime) -> SslState:
    data = reader.mapping(raw, path, SSL_KEYS)
    if data is None:
        return SslState()
    enabled = reader.boolean(data, "enabled", path, False)
    if not enabled:
        for key in data:
            if key != "enabled":
                reader.problem((*path, key), "is only allowed when ssl.enabled is true")
        return SslState()
    ca_type = reader.text(data, "ca_type", path, "aliyun", choices=CA_TYPES) or "aliyun"
    hosts = _ssl_endpoints(reader, data, path, endpoints, ca_type)
    server_cert = reader.pem(data, "server_cert", path)
    server_key = reader.pem(data, "server_key", path, secret=True)
    expires_at = reader.when(data, "expires_at", path)
    issued_at = reader.when(data, "issued_at", path)
    if ca_type == "custom" or server_cert is not None or server_key is not None:
        problem = server_pair_problem(server_cert, server_key)
        if problem:
            reader.problem((*path, "server_cert"), f"unusable server certificate/key: {problem}")
        elif expires_at is None and server_cert is not None:
            expires_at = certificate_not_after(server_cert)
    client_ca = reader.pem(data, "client_ca_cert", path)
    if client_ca is not None and (problem := certificate_problem(client_ca, what="client CA certificate")):
        reader.problem((*path, "client_ca_cert"), problem)
    crl = reader.pem(data, "crl", path)
    if crl is not None:
        if client_ca is None:
            reader.problem((*path, "crl"), "needs client_ca_cert (RDS refuses a CRL without a client CA)")
        elif problem := crl_problem(crl):
            reader.problem((*path, "crl"), problem)
    acls: dict[str, str | None] = {}
    for key in ("acl", "replication_acl"):
        acls[key] = reader.text(data, key, path, choices=ACL_VALUES)
        if acls[key] is not None and client_ca is None:
            reader.problem((*path, key), "needs client_ca_cert (RDS refuses an ACL without a client CA)")
    return SslState(
        enabled=True,
        ca_type=ca_type,
        endpoints=hosts,
        server_cert=server_cert,
        server_key=server_key,
        issued_at=(issued_at or now).replace(microsecond=0),
        expires_at=expires_at,
        client_ca_cert=client_ca,
        crl=crl,
        acl=acls["acl"],
        replication_acl=acls["replication_acl"],
    )


def _ssl_endpoints(
    reader: _Reader, data: Mapping[str, Any], path: Path_, endpoints: tuple[Endpoint, ...], ca_type: str
) -> tuple[str, ...]:
    if "endpoint" in data and "endpoints" in data:
        reader.problem((*path, "endpoint"), "give either 'endpoint' or 'endpoints', not both")
    raw: Any = data.get("endpoints", [data["endpoint"]] if "endpoint" in data else None)
    key = "endpoints" if "endpoints" in data else "endpoint"
    by_host = {e.host.lower(): e for e in endpoints}
    if raw is None:
        default = next((e for e in endpoints if e.ip_type == "Private" and not e.is_read_write_splitting), None)
        default = default or next((e for e in endpoints if not e.is_read_write_splitting), endpoints[0])
        return (default.host,)
    if not isinstance(raw, list) or not raw or not all(isinstance(h, str) and h for h in raw):
        reader.problem((*path, key), "expected a host name or a non-empty list of host names")
        return ()
    hosts: list[str] = []
    for host in raw:
        endpoint = by_host.get(host.lower())
        if endpoint is None:
            known = ", ".join(e.host for e in endpoints)
            reader.problem((*path, key), f"{host!r} is not an endpoint of this instance (endpoints: {known})")
        elif endpoint.is_read_write_splitting:
            reader.problem((*path, key), f"{host!r} is a read/write splitting endpoint, which SSL cannot protect")
        elif endpoint.host not in hosts:
            hosts.append(endpoint.host)
    if ca_type == "aliyun" and len(raw) != 1:
        reader.problem((*path, key), f"a cloud (aliyun) certificate protects exactly one endpoint, got {len(raw)}")
    return tuple(hosts)


def parse_entry(
    raw: Any, *, path: Path_, reader: _Reader, now: datetime, known_ids: set[str] | None = None
) -> Instance | None:
    data = reader.mapping(raw, path, ENTRY_KEYS)
    if data is None:
        return None
    given_id = reader.text(data, "id", path, required=True)
    if given_id is not None and not ID_PATTERN.match(given_id):
        # DescribeDBInstances takes a comma-separated id list: ids with commas or spaces cannot work.
        reader.problem((*path, "id"), f"expected letters, digits, '-', '_' or '.', got {given_id!r}")
    given_region = reader.text(data, "region", path, required=True)
    # Keep reading an entry without id/region: every other problem in it is reported in the same run.
    instance_id, region = given_id or "unknown", given_region or "unknown"
    if known_ids is not None and given_id is not None:
        if instance_id in known_ids:
            reader.problem((*path, "id"), f"duplicate instance id {instance_id!r}")
        known_ids.add(instance_id)
    endpoints = _endpoints(reader, data, path, instance_id)
    pay_type = reader.text(data, "pay_type", path, "Postpaid", choices=PAY_TYPES) or "Postpaid"
    default_class = "pg.n2.serverless.1c" if pay_type == "Serverless" else "pg.n2.medium.2c"
    status_reason = reader.text(data, "modify_status_reason", path, "", allow_empty=True)
    instance = Instance(
        id=instance_id,
        region=region,
        zone_id=reader.text(data, "zone_id", path, f"{region}-h") or f"{region}-h",
        engine=reader.text(data, "engine", path, "PostgreSQL", choices=ENGINES) or "PostgreSQL",
        engine_version=_engine_version(reader, data, path),
        instance_class=reader.text(data, "instance_class", path, default_class) or default_class,
        storage_type=reader.text(data, "storage_type", path, "cloud_essd", choices=STORAGE_TYPES) or "cloud_essd",
        storage_gb=reader.integer(data, "storage_gb", path, 100, low=5, high=64000),
        pay_type=pay_type,
        category=reader.text(data, "category", path, "HighAvailability") or "HighAvailability",
        instance_type=reader.text(data, "instance_type", path, "Primary", choices=INSTANCE_TYPES) or "Primary",
        master_instance_id=reader.text(data, "master_instance_id", path, "", allow_empty=True) or "",
        status=reader.text(data, "status", path, "Running") or "Running",
        lock_mode=reader.text(data, "lock_mode", path, "Unlock") or "Unlock",
        description=reader.text(data, "description", path, "", allow_empty=True) or "",
        created_at=reader.when(data, "created_at", path) or now.replace(microsecond=0),
        endpoints=endpoints,
        ssl=_ssl(reader, data["ssl"], (*path, "ssl"), endpoints, now=now)
        if data.get("ssl") is not None
        else SslState(),
        last_modify_status=reader.text(
            data, "last_modify_status", path, "success", choices=MODIFY_STATUSES, allow_empty=True
        )
        or "",
        modify_status_reason=status_reason or "",
        backed=reader.boolean(data, "backed", path, False),
    )
    return instance if given_id is not None and given_region is not None else None


def parse_entries(
    entries: Any,
    *,
    source: str,
    now: datetime,
    base_dir: Path | None = None,
    path: Path_ = (),
    locate: Callable[[Path_], int | None] | None = None,
) -> tuple[Instance, ...]:
    """Parse a list of fleet entries; raises :class:`FleetError` listing every problem."""
    reader = _Reader(base_dir=base_dir, problems=[], locate=locate)
    instances: list[Instance] = []
    if not isinstance(entries, list):
        reader.problem(path, f"expected a list of instances, got {type(entries).__name__}")
    else:
        known: set[str] = set()
        for index, raw in enumerate(entries):
            instance = parse_entry(raw, path=(*path, index), reader=reader, now=now, known_ids=known)
            if instance is not None:
                instances.append(instance)
    if reader.problems:
        raise FleetError(source, reader.problems)
    return tuple(instances)


def parse_fleet(
    data: Any,
    *,
    source: str,
    now: datetime,
    base_dir: Path | None = None,
    locate: Callable[[Path_], int | None] | None = None,
) -> tuple[Instance, ...]:
    """A whole fleet document: ``{instances: [...]}`` (an empty document is an empty fleet)."""
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise FleetError(source, [f"(top level): expected a mapping with 'instances:', got {type(data).__name__}"])
    unknown = [str(k) for k in data if k != "instances"]
    if unknown:
        raise FleetError(
            source, [f"{k}: unknown key{did_you_mean(k, ('instances',))}; expected 'instances'" for k in unknown]
        )
    return parse_entries(
        data.get("instances") or [], source=source, now=now, base_dir=base_dir, path=("instances",), locate=locate
    )


def load_fleet_file(file: Path, *, now: datetime) -> tuple[Instance, ...]:
    """Load ``file`` (YAML, or JSON for big generated fleets: ``.json`` parses much faster)."""
    # The project's one YAML reader: safe loading, duplicate keys refused, a line for every key path; and
    # its file reader, which refuses a FIFO or a device instead of blocking on it or reading forever.
    from rdsssl_reconcile.spec.yaml_source import load_yaml_text, read_regular_text

    from .state import NonFiniteNumber

    try:
        text = read_regular_text(file, limit=1024 * 1024 * 1024)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise FleetError(str(file), [f"cannot read the file: {reason}"]) from None
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text, parse_constant=NonFiniteNumber)
        except json.JSONDecodeError as exc:
            raise FleetError(str(file), [f"line {exc.lineno}: not valid JSON: {exc.msg}"]) from None
        except RecursionError:
            raise FleetError(str(file), ["nested too deeply; expected a fleet document"]) from None
        return parse_fleet(data, source=str(file), now=now, base_dir=file.parent)

    document = load_yaml_text(text, file)
    if document.problems:
        raise FleetError(
            str(file), [f"line {line}: {message}" if line else message for line, message in document.problems]
        )
    return parse_fleet(document.data, source=str(file), now=now, base_dir=file.parent, locate=document.line_of)


def _public_key_sha256(key_pem: str) -> str | None:
    try:
        return public_key_fingerprint(load_private_key(key_pem).key.public_key())
    except PemError:
        return None


def ssl_to_entry(ssl: SslState, *, secrets: bool) -> dict[str, Any]:
    if not ssl.enabled:
        return {"enabled": False}
    entry: dict[str, Any] = {"enabled": True, "ca_type": ssl.ca_type, "endpoints": list(ssl.endpoints)}
    if ssl.server_cert is not None:
        entry["server_cert"] = ssl.server_cert
    if ssl.server_key is not None:
        if secrets:
            entry["server_key"] = ssl.server_key
        else:
            entry["server_key_public_sha256"] = _public_key_sha256(ssl.server_key)
    for key, value in (
        ("issued_at", ssl.issued_at),
        ("expires_at", ssl.expires_at),
    ):
        if value is not None:
            entry[key] = iso_z(value)
    for key, text in (
        ("client_ca_cert", ssl.client_ca_cert),
        ("crl", ssl.crl),
        ("acl", ssl.acl),
        ("replication_acl", ssl.replication_acl),
    ):
        if text is not None:
            entry[key] = text
    return entry


def instance_to_entry(instance: Instance, *, secrets: bool) -> dict[str, Any]:
    """The fleet-format entry of ``instance``. With ``secrets=False`` the server key becomes its
    public-key SHA-256 (``server_key_public_sha256``), which is what admin ``instance()`` returns."""
    entry: dict[str, Any] = {
        "id": instance.id,
        "region": instance.region,
        "zone_id": instance.zone_id,
        "engine": instance.engine,
        "engine_version": instance.engine_version,
        "instance_class": instance.instance_class,
        "storage_type": instance.storage_type,
        "storage_gb": instance.storage_gb,
        "pay_type": instance.pay_type,
        "category": instance.category,
        "instance_type": instance.instance_type,
        "master_instance_id": instance.master_instance_id,
        "status": instance.status,
        "lock_mode": instance.lock_mode,
        "description": instance.description,
        "created_at": iso_z(instance.created_at),
        "endpoints": [
            {"host": e.host, "type": e.ip_type, "port": e.port, "connection_string_type": e.connection_string_type}
            for e in instance.endpoints
        ],
        "ssl": ssl_to_entry(instance.ssl, secrets=secrets),
        "last_modify_status": instance.last_modify_status,
        "modify_status_reason": instance.modify_status_reason,
    }
    if instance.backed:
        entry["backed"] = True  # only when set: entries of plain instances stay as they were
    return entry


def parse_ssl_state(raw: Any, *, endpoints: tuple[Endpoint, ...], source: str, now: datetime) -> SslState:
    """An ``ssl:`` mapping on its own (a pending modify's target inside a state file)."""
    reader = _Reader(base_dir=None, problems=[])
    state = _ssl(reader, raw, ("ssl",), endpoints, now=now)
    if reader.problems:
        raise FleetError(source, reader.problems)
    return state

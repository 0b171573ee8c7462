"""Load spec files into :class:`DesiredInstance` values, or fail with every problem at once.

Pipeline per file: YAML with line marks -> file-level schema -> each instance merged over the file's
``defaults`` (remembering which value came from where) -> instance schema -> cross-checks (duplicate
ids, one endpoint for the cloud certificate) -> PEM material resolved and checked with the shared
certificate checks (:mod:`rdsssl_reconcile.pki.checks`). Nothing here talks to the cloud, and nothing
imports the vendor SDK: ``validate`` runs offline.

Every problem names the file, the line and the key path, says what was expected and what was found,
and suggests the closest valid key or value for typos.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError

from rdsssl_reconcile import collector
from rdsssl_reconcile.errors import EncryptedKeyError, PemError, SpecError
from rdsssl_reconcile.pki import checks
from rdsssl_reconcile.pki.authority import KeyType
from rdsssl_reconcile.pki.pem import load_certificates, load_crl, load_private_key
from rdsssl_reconcile.pki.summary import (
    is_ca_certificate,
    key_matches_certificate,
    summarize_certificate,
    summarize_crl,
)
from rdsssl_reconcile.planning.rules import RESTART_SECONDS
from rdsssl_reconcile.spec import schema as spec_schema
from rdsssl_reconcile.spec.keyscan import holds_private_key
from rdsssl_reconcile.spec.model import (
    AliyunCertificate,
    CertificateMaterial,
    ClientCa,
    CrlMaterial,
    CustomCertificate,
    DesiredCertificate,
    DesiredInstance,
    DesiredSsl,
    IssuerCertificate,
    Location,
    MaterialRef,
    RestartMode,
    RestartPolicy,
    SecretKey,
)
from rdsssl_reconcile.spec.schema_check import SchemaCheck
from rdsssl_reconcile.spec.window import MaintenanceWindow
from rdsssl_reconcile.spec.yaml_source import PathKey, YamlDocument, format_path, load_yaml_file

DEFAULT_SPEC_DIR = Path("specs")
#: apply starts a restart in a window only if the whole restart fits before the window closes.
RESTART_DURATION = timedelta(seconds=RESTART_SECONDS)
SPEC_SUFFIXES = (".yaml", ".yml")

_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "version": spec_schema.SPEC_SCHEMA["properties"]["version"],
        "defaults": spec_schema.DEFAULTS_SCHEMA,
        "instances": {"type": "array"},
    },
    "required": ["instances"],
    "additionalProperties": False,
}
_FILE_VALIDATOR = SchemaCheck(_FILE_SCHEMA)
_INSTANCE_VALIDATOR = SchemaCheck(spec_schema.INSTANCE_SCHEMA)

_PATTERN_MEANING = {
    "id": "an RDS instance id such as 'pgm-bp1abc2def3gh4i'",
    "region": "a region id such as 'cn-hangzhou'",
    "endpoints": "a hostname such as 'pgm-bp1abc.pg.rds.aliyuncs.com'",
    "env": "an environment variable name such as 'SERVER_KEY'",
    "window": "a UTC window such as '02:00-04:00' or 'sat,sun 01:00-05:00'",
    "labels": "a label name such as 'team' (letters, digits, '-', '_', '.')",
}


@dataclass(frozen=True, slots=True)
class SpecWarning:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.location.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class SpecSet:
    """Everything the specs declare, ready for the planner."""

    instances: tuple[DesiredInstance, ...]
    files: tuple[Path, ...]
    warnings: tuple[SpecWarning, ...]

    def by_id(self) -> dict[str, DesiredInstance]:
        return {instance.id: instance for instance in self.instances}


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def discover_spec_files(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Every ``*.yaml``/``*.yml`` under ``paths``; names starting with ``.`` or ``_`` are skipped.

    The skip rule keeps tool files beside the specs (``_target.yaml``, ``_emulator-fleet.yaml``,
    ``.state/``) out of the spec set. Nothing else is skipped silently, because a spec that is quietly
    left out is an instance that is quietly not managed: a directory that cannot be listed, a spec name
    that is not a regular file (a FIFO, a socket, a device, also behind a symbolic link such as one to
    ``/dev/zero``) and a link to nothing are problems naming the path. Symbolic links to directories are
    followed (once each: a link loop is reported). Returns the files and the problems.
    """
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            message = "a symbolic link to a missing file" if path.is_symlink() else "no such file or directory"
            problems.append(f"{path}: {message}")
            continue
        except OSError as exc:
            problems.append(f"{path}: cannot read it: {exc.strerror or type(exc).__name__}")
            continue
        if stat.S_ISREG(mode):
            files.append(path)
        elif stat.S_ISDIR(mode):
            _walk(path, files, problems, visited=set())
        else:
            problems.append(f"{path}: {_kind(mode)}, not a regular file or directory")
    # The same file named twice (`specs specs/a.yaml`) is one file, not a set of duplicate instances.
    unique: dict[Path, Path] = {}
    for file in files:
        unique.setdefault(file.resolve(), file)
    files = list(unique.values())
    if not files and not problems:
        problems.append(f"no spec files (*.yaml, *.yml) found in {', '.join(str(p) for p in paths)}")
    return files, problems


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file"


def _walk(directory: Path, files: list[Path], problems: list[str], *, visited: set[tuple[int, int]]) -> None:
    """Depth first, in name order (the order ``sorted(rglob('*'))`` gave), collecting spec files."""
    try:
        identity = directory.stat()
        key = (identity.st_dev, identity.st_ino)
        if key in visited:
            problems.append(
                f"{directory}: a directory already read through another path (a symbolic link loop, or the same specs twice); remove the link"
            )
            return
        visited.add(key)
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        problems.append(
            f"{directory}: cannot read the directory: {exc.strerror or type(exc).__name__}; "
            "expected a readable directory of specs (an unread directory would be skipped silently)"
        )
        return
    for entry in entries:
        if entry.name.startswith((".", "_")):
            continue
        candidate = Path(entry.path)
        is_spec_name = candidate.suffix.lower() in SPEC_SUFFIXES
        try:
            mode = entry.stat(follow_symlinks=True).st_mode
        except FileNotFoundError:
            if is_spec_name:
                problems.append(f"{candidate}: a symbolic link to a missing file")
            continue
        except OSError as exc:
            problems.append(f"{candidate}: cannot read it: {exc.strerror or type(exc).__name__}")
            continue
        if stat.S_ISDIR(mode):
            _walk(candidate, files, problems, visited=visited)
        elif not is_spec_name:
            continue  # certificates, notes, READMEs: not specs, whatever they are
        elif stat.S_ISREG(mode):
            files.append(candidate)
        else:
            behind = ""
            if entry.is_symlink():
                behind = f" (a symbolic link to {_echo(os.readlink(candidate))})"
            problems.append(f"{candidate}{behind}: {_kind(mode)}, not a regular file; expected a YAML spec file")


class _Problems:
    """Collects problems (and warnings) with their locations while a spec set loads."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, int, str]] = []
        self.warnings: list[SpecWarning] = []

    def add(self, file: Path, line: int | None, path: str, message: str) -> None:
        where = f"{_display(file)}:{line}" if line else _display(file)
        text = f"{where}: {path}: {message}" if path else f"{where}: {message}"
        self.problems.append((str(file), line or 0, text))

    def warn(self, location: Location, message: str) -> None:
        self.warnings.append(SpecWarning(location=location, message=message))

    def raise_if_any(self) -> None:
        if self.problems:
            ordered = sorted(self.problems, key=lambda p: (p[0], p[1]))
            raise SpecError([text for _, _, text in ordered])


def _merge(
    default: Any, override: Any, default_path: PathKey, override_path: PathKey
) -> tuple[Any, dict[PathKey, PathKey]]:
    """Deep-merge ``override`` over ``default``; return the value and, per merged sub-path, its origin."""
    if isinstance(default, dict) and isinstance(override, dict):
        merged: dict[str, Any] = {}
        origins: dict[PathKey, PathKey] = {(): override_path}
        for key in [*default, *(k for k in override if k not in default)]:
            if key in override and key in default:
                value, sub = _merge(default[key], override[key], (*default_path, key), (*override_path, key))
            elif key in override:
                value, sub = override[key], {(): (*override_path, key)}
            else:
                value, sub = default[key], {(): (*default_path, key)}
            merged[key] = value
            origins.update({(key, *rel): origin for rel, origin in sub.items()})
        return merged, origins
    return override, {(): override_path}


def _origin(origins: dict[PathKey, PathKey], path: PathKey) -> PathKey:
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return (*origins[path[:cut]], *path[cut:])
    return path


#: Longest string echoed back in an error message; longer ones are cut.
_ECHO_LIMIT = 80
#: Certificates, keys and CRLs are kilobytes; a file far bigger is the wrong file (or /dev/zero).
MAX_MATERIAL_BYTES = 4 * 1024 * 1024


def _echo(value: str) -> str:
    """``value`` as error messages may show it: quoted, cut, never PEM, never a key (armoured or not)."""
    if "-----BEGIN" in value:
        return f"<PEM text, {len(value)} characters, not shown>"
    if holds_private_key(value):
        return f"<text holding a private key, {len(value)} characters, not shown>"
    if len(value) > _ECHO_LIMIT:
        return f"{value[:_ECHO_LIMIT]!r}... {len(value)} characters"
    return repr(value)


def _holds_private_key(text: str) -> bool:
    """An armoured private key anywhere in ``text``, or the bare base64 body of a DER one (keyscan)."""
    return holds_private_key(text)


def _private_key_strings(value: Any, path: PathKey) -> Iterator[PathKey]:
    """Paths of every string in a spec document that holds a private key."""
    if isinstance(value, str):
        if _holds_private_key(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _private_key_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _private_key_strings(item, (*path, index))


def _yaml_type(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        if _holds_private_key(value):
            return "a string holding a private key (not shown)"
        return f"a string ({_echo(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "number": "a number",
}


def _did_you_mean(value: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _false_schema_context(path: PathKey, instance: Mapping[str, Any]) -> str:
    node: Any = instance
    for part in path[:-2]:
        node = node[part] if isinstance(node, dict | list) else None  # type: ignore[index]
    parent_key = path[-2] if len(path) >= 2 else None
    if parent_key == "certificate" and isinstance(node, dict):
        source = node.get("certificate", {}).get("source")
        return f"is not allowed with certificate source {source!r}"
    if parent_key == "ssl":
        return "is not allowed when ssl.enabled is false (remove it, or enable SSL)"
    return "is not allowed here"


def _translate(error: ValidationError, instance: Mapping[str, Any]) -> list[tuple[PathKey, bool, str]]:
    """Turn one jsonschema error into (path, points-at-key, message) entries in our own words."""
    path: PathKey = tuple(error.absolute_path)
    value: Any = error.instance
    expected: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.schema is False:
        # jsonschema reports a `False` property schema at the parent's path: find the key whose value it is.
        parent: Any = instance
        for part in path:
            parent = parent[part] if isinstance(parent, dict | list) else None  # type: ignore[index]
        if isinstance(parent, dict):
            key = next((k for k, v in parent.items() if v is value), None)
            if key is not None:
                path = (*path, key)
        return [(path, True, _false_schema_context(path, instance))]
    match error.validator:
        case "additionalProperties":
            allowed = list(schema.get("properties", {}))
            out = []
            for key in sorted(set(value) - set(allowed)):
                if key == "pem" and "env" in allowed:
                    message = "private keys cannot be written inline; use {file: PATH} or {env: NAME}"
                else:
                    message = (
                        f"unknown key {_echo(key)}{_did_you_mean(key, allowed)}; expected one of {', '.join(allowed)}"
                    )
                out.append(((*path, key), True, message))
            return out
        case "required":
            missing = [key for key in expected if key not in value]
            return [(path, False, f"missing required key {key!r}") for key in missing]
        case "enum":
            options = ", ".join(repr(option) for option in expected)
            hint = _did_you_mean(value, [str(o) for o in expected]) if isinstance(value, str) else ""
            return [(path, False, f"expected one of {options}, got {_yaml_type(value)}{hint}")]
        case "const":
            return [(path, False, f"expected {error.validator_value!r}, got {_yaml_type(value)}")]
        case "type":
            expected = _TYPE_WORDS.get(str(error.validator_value), str(error.validator_value))
            return [(path, False, f"expected {expected}, got {_yaml_type(value)}")]
        case "pattern":
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            meaning = _PATTERN_MEANING.get(key, f"a value matching {error.validator_value}")
            return [(path, False, f"expected {meaning}, got {_yaml_type(value)}")]
        case "minItems":
            return [(path, False, f"expected at least {error.validator_value} item(s), got an empty list")]
        case "uniqueItems":
            return [(path, False, "the list has duplicate entries")]
        case "minimum" | "maximum":
            bound = ">=" if error.validator == "minimum" else "<="
            return [(path, False, f"expected a number {bound} {error.validator_value}, got {value!r}")]
        case "minProperties" | "maxProperties":
            options = " or ".join(f"{{{key}: ...}}" for key in schema.get("properties", {}))
            return [(path, False, f"expected exactly one of {options}, got {len(value)} key(s)")]
        case "minLength":
            return [(path, False, "expected a non-empty string")]
    return [(path, False, error.message)]


def _schema_problems(validator: SchemaCheck, data: Any) -> list[tuple[PathKey, bool, str]]:
    found: list[tuple[PathKey, bool, str]] = []
    for error in validator.iter_errors(data):
        found.extend(_translate(error, data if isinstance(data, dict) else {}))
    # if/then rules repeat a problem the base schema already reports; keep each (path, message) once.
    unique: dict[tuple[PathKey, str], tuple[PathKey, bool, str]] = {}
    for entry in found:
        unique.setdefault((entry[0], entry[2]), entry)
    return list(unique.values())


class _FileLoader:
    """Loads the instances of one spec file, reporting into a shared :class:`_Problems`."""

    def __init__(self, document: YamlDocument, problems: _Problems, environ: Mapping[str, str], now: datetime) -> None:
        self.doc = document
        self.problems = problems
        self.environ = environ
        self.now = now
        self.base_dir = document.file.parent
        self.instance_id: str | None = None

    def problem(self, doc_path: PathKey, message: str, *, at_key: bool = False) -> None:
        line = self.doc.line_of(doc_path, prefer_key=at_key)
        self.problems.add(self.doc.file, line, format_path(doc_path), message)

    def location(self, doc_path: PathKey) -> Location:
        return Location(file=self.doc.file, line=self.doc.line_of(doc_path), path=format_path(doc_path))

    def load(self) -> list[tuple[DesiredInstance | None, str | None, Location]]:
        data = self.doc.data
        for line, message in self.doc.problems:
            self.problems.add(self.doc.file, line, "", message)
        if self.doc.problems:
            return []
        if data is None:
            self.problems.add(self.doc.file, None, "", "the file is empty; expected a mapping with 'instances:'")
            return []
        # Checked over the whole document, not only where keys belong: a key pasted into any field
        # would end up in Git and, through descriptions or error messages, in plans and CI logs.
        for path in _private_key_strings(data, ()):
            if path[-2:] in (("key", "pem"), ("ca_key", "pem")):
                continue  # the schema's own message says it: "private keys cannot be written inline"
            self.problem(
                path,
                "holds a private key, which must never be written in a spec (it would be committed to Git); "
                "keep it in a file (mode 0600) or an environment variable and reference it as "
                "{file: PATH} or {env: NAME}",
            )
        file_errors = _schema_problems(_FILE_VALIDATOR, data)
        for path, at_key, message in file_errors:
            self.problem(path, message, at_key=at_key)
        if not isinstance(data, dict) or not isinstance(data.get("instances"), list):
            return []
        defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
        results = []
        for index, raw in enumerate(data["instances"]):
            item_path: PathKey = ("instances", index)
            if not isinstance(raw, dict):
                self.problem(item_path, f"expected a mapping describing one instance, got {_yaml_type(raw)}")
                continue
            merged, origins = _merge(defaults, raw, ("defaults",), item_path)
            instance_id = raw.get("id") if isinstance(raw.get("id"), str) else None
            results.append((self.build(merged, origins, item_path), instance_id, self.location(item_path)))
        return results

    def build(
        self, merged: dict[str, Any], origins: dict[PathKey, PathKey], item_path: PathKey
    ) -> DesiredInstance | None:
        errors = _schema_problems(_INSTANCE_VALIDATOR, merged)
        for path, at_key, message in errors:
            self.problem(_origin(origins, path), message, at_key=at_key)
        if errors:
            return None

        def at(*path: str | int) -> PathKey:
            return _origin(origins, tuple(path))

        before = len(self.problems.problems)
        self.instance_id = merged["id"]
        # The schema's patterns end in '$', which Python (unlike editors' ECMA regexes) also matches before
        # a final newline: "pgm-a\n" would pass and be a different instance from "pgm-a".
        named: list[tuple[PathKey, Any]] = [(("id",), merged["id"]), (("region",), merged["region"])]
        named += [(("ssl", "endpoints", i), e) for i, e in enumerate(merged["ssl"].get("endpoints", ()))]
        for path, value in named:
            if isinstance(value, str) and value != value.strip():
                self.problem(at(*path), f"expected no surrounding spaces or line breaks, got {_echo(value)}")
        policy_raw = merged.get("policy", {})
        if "window" in policy_raw and policy_raw.get("restart", "allowed") == "allowed":
            # The dangerous reading: a window written down, yet 'allowed' restarts at any time.
            self.problem(
                at("policy", "window"),
                "a window is set but restart is 'allowed', so apply would restart at any time, not only in the "
                "window; expected 'restart: window' with it (or no window)",
            )
        ssl_raw = merged["ssl"]
        enabled = bool(ssl_raw.get("enabled", False))
        # Host names are case-insensitive; RDS reports its own in lower case. Normalised here, so that
        # 'PGM-A.pg...' neither plans a restart that never converges nor passes as a second endpoint.
        endpoints = tuple(str(e).lower() for e in ssl_raw.get("endpoints", ()))
        for index, endpoint in enumerate(endpoints):
            if endpoint.endswith("."):
                self.problem(
                    at("ssl", "endpoints", index),
                    f"{endpoint!r} ends with a dot; RDS connection strings (and the host names libpq checks "
                    f"certificates against) are written without it: expected {endpoint.rstrip('.')!r}",
                )
        if len(set(endpoints)) < len(endpoints):
            repeated = sorted({e for e in endpoints if endpoints.count(e) > 1})
            self.problem(
                at("ssl", "endpoints"),
                f"the list names {', '.join(repeated)} more than once (host names ignore case); "
                "expected each endpoint once",
            )
        policy = self.policy(merged.get("policy", {}))
        window = policy.window
        if policy.mode is RestartMode.WINDOW and window is not None and window.duration < RESTART_DURATION:
            minutes = int(window.duration.total_seconds() // 60)
            self.problem(
                at("policy", "window"),
                f"the window lasts {minutes} min, shorter than a restart (~{RESTART_SECONDS // 60} min), so no "
                f"change could ever start in it; expected a window of at least {RESTART_SECONDS // 60} minutes",
            )
        certificate: DesiredCertificate | None = None
        cert_raw = ssl_raw.get("certificate")
        if cert_raw is not None:
            certificate = self.certificate(cert_raw, endpoints, policy, at)
        client_ca = self.client_ca(ssl_raw["client_ca"], at) if "client_ca" in ssl_raw else None
        if len(self.problems.problems) > before:
            return None
        return DesiredInstance(
            id=merged["id"],
            region=merged["region"],
            description=merged.get("description"),
            ssl=DesiredSsl(enabled=enabled, endpoints=endpoints, certificate=certificate, client_ca=client_ca),
            policy=policy,
            location=self.location(item_path),
            labels=tuple(sorted(merged.get("labels", {}).items())),
        )

    def policy(self, raw: Mapping[str, Any]) -> RestartPolicy:
        window = MaintenanceWindow.parse(raw["window"]) if "window" in raw else None
        return RestartPolicy(
            mode=RestartMode(raw.get("restart", "allowed")),
            window=window,
            renew_before_days=int(raw.get("renew_before_days", 30)),
        )

    # -- material -------------------------------------------------------------------------------------

    def to_provide(self, doc_path: PathKey) -> str:
        """For a private key not found: whose key it is (an imported spec names keys the user provides)."""
        if not doc_path or doc_path[-1] not in ("key", "ca_key"):
            return ""
        whose = "the CA private key" if doc_path[-1] == "ca_key" else "the private key"
        owner = f" of {self.instance_id}" if self.instance_id else ""
        return f": {whose}{owner} is to be provided there"

    def read(self, raw: Mapping[str, str], doc_path: PathKey) -> tuple[MaterialRef, str] | None:
        if "pem" in raw:
            return MaterialRef(kind="pem", written="(inline)"), raw["pem"]
        if "env" in raw:
            name = raw["env"]
            value = self.environ.get(name)
            if value is None:
                self.problem((*doc_path, "env"), f"environment variable {name!r} is not set{self.to_provide(doc_path)}")
                return None
            if not value.strip():
                self.problem((*doc_path, "env"), f"environment variable {name!r} is empty")
                return None
            return MaterialRef(kind="env", written=name), value
        written = raw["file"]
        where = (*doc_path, "file")
        if "-----BEGIN" in written or len(written) > 4096:
            # PEM pasted where a path belongs: the whole-document scan reports a key; never echo it here.
            self.problem(where, "expected a file path, found PEM text or something far longer than a path")
            return None
        shown = _echo(written)
        try:
            resolved = (self.base_dir / written).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
            self.problem(where, f"cannot resolve the path {shown} (a symlink loop or an invalid character?)")
            return None
        try:
            if not resolved.exists():
                self.problem(where, f"file {shown} does not exist (looked for {resolved}){self.to_provide(doc_path)}")
                return None
            if not resolved.is_file():
                self.problem(where, f"{shown} ({resolved}) is not a regular file; expected a PEM file")
                return None
            size = resolved.stat().st_size
            if size > MAX_MATERIAL_BYTES:
                self.problem(where, f"{shown} ({resolved}) is {size:,} bytes; a PEM file is a few kilobytes")
                return None
            text = resolved.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a readable text file"
            self.problem(where, f"cannot read {shown} ({resolved}): {reason}")
            return None
        return MaterialRef(kind="file", written=written, resolved=resolved), text

    def certificates(self, raw: Mapping[str, str], doc_path: PathKey, what: str) -> CertificateMaterial | None:
        loaded = self.read(raw, doc_path)
        return None if loaded is None else self.parse_certificates(*loaded, doc_path, what)

    def parse_certificates(
        self, ref: MaterialRef, text: str, doc_path: PathKey, what: str
    ) -> CertificateMaterial | None:
        try:
            certs = load_certificates(text, what=f"{what} ({ref.describe()})")
        except PemError as exc:
            self.problem(doc_path, str(exc))
            return None
        return CertificateMaterial(ref=ref, certificates=certs, summary=summarize_certificate(certs[0]))

    def secret_key(self, raw: Mapping[str, str], doc_path: PathKey, what: str) -> SecretKey | None:
        loaded = self.read(raw, doc_path)
        return None if loaded is None else self.parse_secret_key(*loaded, doc_path, what)

    def parse_secret_key(self, ref: MaterialRef, text: str, doc_path: PathKey, what: str) -> SecretKey | None:
        try:
            parsed = load_private_key(text, what=f"{what} ({ref.describe()})")
        except EncryptedKeyError as exc:
            self.problem(
                doc_path,
                f"{exc}. Remove the passphrase: openssl pkey -in KEY -out KEY.nopass (then protect the file)",
            )
            return None
        except PemError as exc:
            self.problem(doc_path, str(exc))
            return None
        return SecretKey.of(ref, parsed.key, parsed.encoding)

    def certificate(
        self, raw: Mapping[str, Any], endpoints: tuple[str, ...], policy: RestartPolicy, at: Any
    ) -> DesiredCertificate | None:
        source = raw["source"]
        if source == "aliyun":
            if len(endpoints) != 1:
                self.problem(
                    at("ssl", "endpoints"),
                    f"the cloud certificate (source 'aliyun') protects exactly one endpoint, got {len(endpoints)}; "
                    "use source 'custom' or 'issuer' for several endpoints",
                )
                return None
            return AliyunCertificate()
        if source == "custom":
            return self.custom(raw, endpoints, policy, at)
        return self.issuer(raw, policy, at)

    def custom(
        self, raw: Mapping[str, Any], endpoints: tuple[str, ...], policy: RestartPolicy, at: Any
    ) -> CustomCertificate | None:
        cert_path, key_path = at("ssl", "certificate", "cert"), at("ssl", "certificate", "key")
        cert_loaded = self.read(raw["cert"], cert_path)
        key_loaded = self.read(raw["key"], key_path)
        if cert_loaded is None or key_loaded is None:
            return None
        report = checks.check_server_certificate(
            cert_pem=cert_loaded[1],
            key_pem=key_loaded[1],
            endpoints=endpoints,
            now=self.now,
            renew_before_days=policy.renew_before_days,
        )
        failed = False
        for result in report.results:
            doc_path = key_path if result.code in checks.KEY_FILE_CHECKS else cert_path
            if result.outcome is checks.Outcome.FAIL and result.severity is checks.Severity.ERROR:
                self.problem(doc_path, f"{result.message}. {result.why}".strip())
                failed = True
            elif (
                result.outcome in (checks.Outcome.FAIL, checks.Outcome.WARN)
                and result.severity is checks.Severity.WARNING
            ):
                self.problems.warn(self.location(doc_path), result.message)
        if failed:
            return None
        cert = self.parse_certificates(*cert_loaded, cert_path, "certificate")
        key = self.parse_secret_key(*key_loaded, key_path, "private key")
        if cert is None or key is None:
            return None
        return CustomCertificate(cert=cert, key=key)

    def issuer(self, raw: Mapping[str, Any], policy: RestartPolicy, at: Any) -> IssuerCertificate | None:
        ca_path, key_path = at("ssl", "certificate", "ca_cert"), at("ssl", "certificate", "ca_key")
        ca = self.certificates(raw["ca_cert"], ca_path, "CA certificate")
        key = self.secret_key(raw["ca_key"], key_path, "CA private key")
        if ca is None or key is None:
            return None
        ok = True
        if not is_ca_certificate(ca.leaf) and not ca.summary.self_signed:
            self.problem(ca_path, f"{ca.summary.subject} is not a CA certificate (basicConstraints CA:TRUE missing)")
            ok = False
        elif not checks.can_sign_certificates(ca.leaf):
            self.problem(
                ca_path,
                f"{ca.summary.subject} may not sign certificates: its keyUsage lacks keyCertSign, so clients would "
                "refuse what it signs; expected a CA certificate with keyCertSign",
            )
            ok = False
        validity = int(raw.get("validity_days", 365))
        renew_before = int(raw.get("renew_before_days", policy.renew_before_days))
        if validity <= renew_before:
            self.problem(
                at("ssl", "certificate", "validity_days" if "validity_days" in raw else "renew_before_days"),
                f"validity_days ({validity}) must be longer than renew_before_days ({renew_before}): a certificate "
                "issued now would already be due for renewal, and every apply would issue and restart again",
            )
            ok = False
        if not key_matches_certificate(key.key, ca.leaf):
            self.problem(key_path, "the CA private key does not belong to the CA certificate (public keys differ)")
            ok = False
        if ca.summary.not_after <= self.now:
            self.problem(ca_path, f"the CA certificate expired on {ca.summary.not_after:%Y-%m-%d}")
            ok = False
        if not ok:
            return None
        return IssuerCertificate(
            ca_cert=ca,
            ca_key=key,
            validity_days=validity,
            key_type=KeyType(raw.get("key_type", KeyType.RSA_2048.value)),
            renew_before_days=renew_before,
        )

    def client_ca(self, raw: Mapping[str, Any], at: Any) -> ClientCa | None:
        cert_path = at("ssl", "client_ca", "cert")
        cert = self.certificates(raw["cert"], cert_path, "client CA certificate")
        crl: CrlMaterial | None = None
        if "crl" in raw:
            crl_path = at("ssl", "client_ca", "crl")
            loaded = self.read(raw["crl"], crl_path)
            if loaded is not None:
                try:
                    parsed = load_crl(loaded[1], what=f"CRL ({loaded[0].describe()})")
                    crl = CrlMaterial(ref=loaded[0], crl=parsed, summary=summarize_crl(parsed))
                except PemError as exc:
                    self.problem(crl_path, str(exc))
        if cert is None:
            return None
        report = checks.check_client_ca(ca_pem=cert.pem(), crl_pem=crl.pem() if crl else None, now=self.now)
        for result in report.results:
            if result.outcome is checks.Outcome.FAIL and result.severity is checks.Severity.ERROR:
                self.problem(cert_path, f"{result.message}. {result.why}".strip())
            elif result.outcome in (checks.Outcome.FAIL, checks.Outcome.WARN):
                self.problems.warn(self.location(cert_path), result.message)
        return ClientCa(cert=cert, crl=crl, acl=raw.get("acl"), replication_acl=raw.get("replication_acl"))


def load_specs(
    paths: Sequence[Path | str] | None = None,
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
) -> SpecSet:
    """Load, validate and resolve every spec under ``paths`` (default ``./specs``).

    Raises:
        SpecError: with every problem found, each naming file, line and key path.
    """
    # The collector paused while the specs load (rdsssl_reconcile/collector.py): 2.2 -> 1.0 s at 10,000.
    with collector.paused():
        return _load_specs(paths, now=now, environ=environ)


def _load_specs(paths: Sequence[Path | str] | None, *, now: datetime, environ: Mapping[str, str] | None) -> SpecSet:
    roots = [Path(p) for p in (paths or [DEFAULT_SPEC_DIR])]
    files, discovery_problems = discover_spec_files(roots)
    if discovery_problems:
        raise SpecError(discovery_problems)
    problems = _Problems()
    env = os.environ if environ is None else environ
    seen: dict[str, Location] = {}
    instances: list[DesiredInstance] = []
    for file in files:
        try:
            document = load_yaml_file(file)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a UTF-8 text file"
            problems.add(file, None, "", f"cannot read the file: {reason}")
            continue
        for instance, instance_id, location in _FileLoader(document, problems, env, now).load():
            if instance_id is not None:
                if instance_id in seen:
                    first = seen[instance_id]
                    problems.add(
                        file,
                        location.line,
                        f"{location.path}.id",
                        f"duplicate instance id {instance_id!r} (also declared at {_display(first.file)}:{first.line})",
                    )
                    continue
                seen[instance_id] = location
            if instance is not None:
                instances.append(instance)
    problems.raise_if_any()
    return SpecSet(instances=tuple(instances), files=tuple(files), warnings=tuple(problems.warnings))

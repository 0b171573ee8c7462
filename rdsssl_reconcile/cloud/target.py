"""Which API a command talks to, decided before anything is called, and named in every output.

Order of precedence (first match wins):

1. ``--endpoint URL`` on the command line (``--endpoint ""`` is an error, not "not given");
2. the ``RDSSSL_ENDPOINT`` environment variable (set but empty or blank counts as unset);
3. a ``_target.yaml`` file in the spec directory (the demo specs use it to select the embedded emulator);
4. Alibaba Cloud, with each region's public endpoint.

For 1, 2 and 4 credentials come from the SDK's standard credential chain (``alibabacloud-credentials``:
``ALIBABA_CLOUD_ACCESS_KEY_ID``/``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, the CLI profile, an ECS instance role,
OIDC). The embedded emulator uses its own documented credentials. ``_target.yaml`` format::

    target: embedded-emulator          # or: alibaba-cloud, or an http(s) URL of an emulator
    emulator:                          # only for embedded-emulator
      fleet: _emulator-fleet.yaml      # relative to this file
      state: .state/emulator.json      # persisted between commands, so plan -> apply -> plan works
      restart_seconds: 3               # restarts are scaled down for the demo (real ones take ~3 min)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from rdsssl_reconcile.errors import TargetError
from rdsssl_reconcile.spec.yaml_source import load_yaml_file

TARGET_FILE = "_target.yaml"
#: As ``emulator serve --restart-seconds``: longer only overflows the emulator's dates.
MAX_RESTART_SECONDS = 7 * 24 * 3600
ENDPOINT_ENV = "RDSSSL_ENDPOINT"

TargetKind = Literal["alibaba-cloud", "emulator", "embedded-emulator"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """Explicit credentials (only the embedded emulator uses these; the rest use the standard chain)."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class EmbeddedEmulatorConfig:
    config_file: Path
    fleet: Path
    state: Path | None
    restart_seconds: float


@dataclass(frozen=True, slots=True)
class Target:
    """Where API calls go. ``endpoint`` is a URL for emulators and None for Alibaba Cloud."""

    kind: TargetKind
    endpoint: str | None
    source: str
    credentials: Credentials | None = None
    embedded: EmbeddedEmulatorConfig | None = None

    def describe(self) -> str:
        if self.kind == "alibaba-cloud":
            return "Alibaba Cloud (regional RDS endpoints)"
        if self.kind == "embedded-emulator":
            return f"embedded emulator at {self.endpoint} ({self.source})"
        return f"emulator at {self.endpoint} ({self.source})"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "endpoint": self.endpoint, "source": self.source, "description": self.describe()}

    def with_endpoint(self, endpoint: str, credentials: Credentials) -> Target:
        return Target(
            kind=self.kind, endpoint=endpoint, source=self.source, credentials=credentials, embedded=self.embedded
        )


def normalize_endpoint(url: str, *, source: str) -> str:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise TargetError(f"{source}: expected an http(s) URL such as http://127.0.0.1:8080, got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"{source}: expected an http(s) URL such as http://127.0.0.1:8080, got {url!r}")
    if parts.path not in ("", "/") or parts.query:
        raise TargetError(f"{source}: the endpoint URL must not have a path or query, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _find_target_file(spec_paths: Sequence[Path]) -> Path | None:
    for path in spec_paths:
        directory = path if path.is_dir() else path.parent
        candidate = directory / TARGET_FILE
        if candidate.is_file():
            return candidate
        if candidate.is_symlink() or candidate.exists():
            # Ignoring it would quietly send the commands to the next target (ultimately Alibaba Cloud).
            raise TargetError(f"{candidate}: not a regular file (a directory, FIFO, device or broken link?)")
    return None


def _load_target_file(file: Path) -> Target:
    try:
        document = load_yaml_file(file)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a UTF-8 text file"
        raise TargetError(f"{file}: cannot read the file: {reason}") from None
    data = document.data

    def where(*path: str) -> str:
        line = document.line_of(path) if path else None
        return f"{file}:{line}" if line else str(file)

    if document.problems:
        line, problem = document.problems[0]
        raise TargetError(f"{file}{f':{line}' if line else ''}: {problem}")
    if not isinstance(data, dict):
        raise TargetError(f"{file}: expected a mapping with 'target:' (see the README)")
    unknown = sorted(set(data) - {"target", "emulator"})
    if unknown:
        raise TargetError(f"{where(unknown[0])}: unknown key(s) {', '.join(unknown)}; expected 'target' and 'emulator'")
    kind = data.get("target")
    if kind == "alibaba-cloud":
        return Target(kind="alibaba-cloud", endpoint=None, source=str(file))
    if isinstance(kind, str) and kind.startswith(("http://", "https://")):
        return Target(kind="emulator", endpoint=normalize_endpoint(kind, source=where("target")), source=str(file))
    if kind != "embedded-emulator":
        raise TargetError(
            f"{where('target')}: target: expected 'embedded-emulator', 'alibaba-cloud' or an http(s) URL, got {kind!r}"
        )
    emulator = data.get("emulator") or {}
    if not isinstance(emulator, dict) or "fleet" not in emulator:
        raise TargetError(f"{where('emulator')}: emulator.fleet is required for target 'embedded-emulator'")
    unknown = sorted(set(emulator) - {"fleet", "state", "restart_seconds"})
    if unknown:
        raise TargetError(
            f"{where('emulator', unknown[0])}: emulator: unknown key(s) {', '.join(unknown)}; "
            "expected fleet, state, restart_seconds"
        )
    restart = emulator.get("restart_seconds", 3)
    if not isinstance(restart, int | float) or isinstance(restart, bool) or not 0 <= restart <= MAX_RESTART_SECONDS:
        raise TargetError(
            f"{where('emulator', 'restart_seconds')}: emulator.restart_seconds: expected a number from 0 to "
            f"{MAX_RESTART_SECONDS} (a week), got {restart!r}"
        )
    base = file.parent
    state = emulator.get("state")
    config = EmbeddedEmulatorConfig(
        config_file=file,
        fleet=(base / str(emulator["fleet"])).resolve(),
        state=(base / str(state)).resolve() if state else None,
        restart_seconds=float(restart),
    )
    return Target(kind="embedded-emulator", endpoint=None, source=str(file), embedded=config)


def resolve_target(
    *, endpoint_option: str | None, spec_paths: Sequence[Path], environ: Mapping[str, str] | None = None
) -> Target:
    """Decide the target without calling anything (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    if endpoint_option is not None:
        # Given but empty (`--endpoint ""`, an unset shell variable) is a mistake, never "not given":
        # falling through would quietly talk to the next target, ultimately Alibaba Cloud.
        return Target(
            kind="emulator", endpoint=normalize_endpoint(endpoint_option, source="--endpoint"), source="--endpoint"
        )
    if env.get(ENDPOINT_ENV, "").strip():
        # An empty (or blank) RDSSSL_ENDPOINT counts as unset, as shells and CI templates leave
        # `RDSSSL_ENDPOINT=` behind for "no emulator"; documented in the README and docs/emulator.md.
        return Target(
            kind="emulator", endpoint=normalize_endpoint(env[ENDPOINT_ENV], source=ENDPOINT_ENV), source=ENDPOINT_ENV
        )
    target_file = _find_target_file(spec_paths)
    if target_file is not None:
        return _load_target_file(target_file)
    return Target(kind="alibaba-cloud", endpoint=None, source="default")


def check_target_file(spec_paths: Sequence[Path], *, now: datetime) -> Target | None:
    """Check offline the ``_target.yaml`` beside the specs as ``plan`` would read it (for ``validate``).

    The same parser as :func:`resolve_target`, so ``validate`` accepts exactly the files ``plan`` accepts;
    for the embedded emulator the fleet file is loaded too (what ``plan`` does first when it starts the
    emulator). Nothing is started, written or called. The file is checked even when ``--endpoint`` or
    ``RDSSSL_ENDPOINT`` would override it today: it is part of the spec directory, and the next ``plan``
    without them reads it. Returns the target it names, or None when there is no such file.

    Raises:
        TargetError: the file is unreadable or malformed, located by file and line.
        FleetError: the embedded emulator's fleet file cannot be loaded.
    """
    target_file = _find_target_file(spec_paths)
    if target_file is None:
        return None
    target = _load_target_file(target_file)
    if target.embedded is not None:
        from rdsssl_reconcile.emulator.fleet import load_fleet_file

        load_fleet_file(target.embedded.fleet, now=now)
    return target

"""The audit log: one JSON line per mutating call, and one per result, appended and fsync'ed.

Default location: ``$XDG_STATE_HOME/rdsssl-reconcile/audit.jsonl`` (``~/.local/state/...``), so runs
from any working copy land in one history; ``apply --audit-log FILE`` chooses another. Lines carry
fingerprints and request ids, never key material.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.errors import UserError


def default_audit_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rdsssl-reconcile" / "audit.jsonl"


class AuditLog:
    """Append-only JSON lines; safe to call from several worker threads.

    The file is proven writable when the log is opened, before any cloud call, so a bad
    ``--audit-log`` is a user error and not a surprise halfway through a fleet. A write that fails
    later (disk full) must not turn a restart in progress into an unreported one: it is remembered in
    ``failures`` for the caller to report, and the run goes on.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.failures: list[str] = []
        self._lock = threading.Lock()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            except OSError as exc:
                raise UserError(
                    f"--audit-log {path}: cannot write the audit log: {exc.strerror or type(exc).__name__}; "
                    "expected a writable file path"
                ) from None

    def record(self, kind: str, *, time: datetime, **fields: Any) -> None:
        if self.path is None:
            return
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": kind, **fields}
        line = json.dumps(entry, sort_keys=False, default=str) + "\n"
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                what = f"{kind} {fields.get('instance', '')} {fields.get('outcome', '')}".strip()
                self.failures.append(f"{what}: {exc.strerror or type(exc).__name__}")

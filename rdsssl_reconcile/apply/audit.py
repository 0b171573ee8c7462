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


def default_audit_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rdsssl-reconcile" / "audit.jsonl"


class AuditLog:
    """Append-only JSON lines; safe to call from several worker threads."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, kind: str, *, time: datetime, **fields: Any) -> None:
        if self.path is None:
            return
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "kind": kind, **fields}
        line = json.dumps(entry, sort_keys=False, default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

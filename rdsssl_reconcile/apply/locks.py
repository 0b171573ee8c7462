"""A local advisory lock per target and instance, so two applies on one machine never race on an instance.

``ModifyDBInstanceSSL`` is not idempotent: two runs that both decide to send it restart the instance
twice. On one machine, every ``apply`` takes an exclusive ``fcntl.flock`` on::

    $XDG_STATE_HOME/rdsssl-reconcile/locks/<target hash>/<instance-id>.lock

(``XDG_STATE_HOME`` defaults to ``~/.local/state``; ``<target hash>`` is a short SHA-256 of the target's
kind and endpoint, so the same instance id on two emulators are two locks) for every selected instance,
after the specs load and before planning. The kernel drops a flock when its holder exits, however it
exits, so a crashed run never leaves a stale lock; the files themselves stay (removing them would let a
waiter lock a file that a newcomer no longer sees). The holder writes its pid and start time into the
file, only so that a refusal can name it.

Across machines nothing is shared: there the executor's rule "re-read and re-plan before every send"
is what protects.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from rdsssl_reconcile.errors import UserError

#: How often a waiting run tries again.
POLL_SECONDS = 0.1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class LockBusyError(UserError):
    """Another apply on this machine holds an instance's lock (and ``--lock-timeout`` did not outlast it)."""


def state_home(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state"))


def target_key(target: dict[str, Any]) -> str:
    """What identifies a target across runs: its kind and endpoint (an embedded emulator: its config file).

    An embedded emulator listens on a new port each run, so its identity is the ``_target.yaml`` that
    names it (and the state file it shares between runs).
    """
    kind = str(target.get("kind"))
    if kind == "embedded-emulator":
        return f"{kind}\n{Path(str(target.get('source'))).resolve()}"
    return f"{kind}\n{target.get('endpoint') or ''}"


def lock_directory(target: dict[str, Any], environ: dict[str, str] | None = None) -> Path:
    digest = hashlib.sha256(target_key(target).encode("utf-8")).hexdigest()[:12]
    return state_home(environ) / "rdsssl-reconcile" / "locks" / digest


def lock_path(directory: Path, instance_id: str) -> Path:
    name = instance_id if _SAFE_NAME.match(instance_id) else hashlib.sha256(instance_id.encode()).hexdigest()[:16]
    return directory / f"{name}.lock"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as its holder wrote it (best effort: it may be mid-write)."""

    pid: int | None
    started: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another apply (holder not yet recorded)"
        return f"pid {self.pid}, started {self.started or 'at an unknown time'}"


def read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return Holder(pid=None, started=None)
    if not isinstance(data, dict):
        return Holder(pid=None, started=None)
    pid = data.get("pid")
    started = data.get("started")
    return Holder(
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        started=started if isinstance(started, str) else None,
    )


class InstanceLocks:
    """The locks of one run, taken in sorted order (so two waiting runs cannot deadlock), released together.

    Use as a context manager. ``timeout`` 0 refuses at once when a lock is held; a positive timeout waits
    up to that long in total, then refuses. Nothing is held after a refusal.
    """

    def __init__(
        self,
        directory: Path,
        instance_ids: Iterable[str],
        *,
        timeout: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str, Holder, Path], None] | None = None,
        started: datetime | None = None,
    ) -> None:
        if not math.isfinite(timeout) or timeout < 0:
            raise UserError(f"--lock-timeout: expected a finite number of seconds >= 0, got {timeout!r}")
        self.directory = directory
        self.instance_ids = sorted(set(instance_ids))
        self.timeout = timeout
        self._monotonic = monotonic
        self._sleep = sleep
        self._on_wait = on_wait
        self._held: list[int] = []
        self._started = (started or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def __enter__(self) -> InstanceLocks:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def acquire(self) -> None:
        if not self.instance_ids:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UserError(
                f"cannot create the lock directory {self.directory}: {exc.strerror or type(exc).__name__} "
                "(set XDG_STATE_HOME to a writable directory)"
            ) from None
        deadline = self._monotonic() + self.timeout
        try:
            for instance_id in self.instance_ids:
                self._held.append(self._take(instance_id, deadline))
        except BaseException:
            self.release()
            raise

    def _take(self, instance_id: str, deadline: float) -> int:
        path = lock_path(self.directory, instance_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise UserError(f"cannot open the lock file {path}: {exc.strerror or type(exc).__name__}") from None
        announced = False
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = read_holder(path)
                    if self._monotonic() >= deadline:
                        waited = f" after waiting {self.timeout:g} s" if self.timeout else ""
                        raise LockBusyError(
                            f"{instance_id} is being applied by another run on this machine ({holder.describe()}; "
                            f"lock file {path}){waited}; nothing was changed. Wait for it to finish, or pass "
                            "--lock-timeout SECONDS to wait for it and then plan afresh"
                        ) from None
                    if not announced and self._on_wait is not None:
                        self._on_wait(instance_id, holder, path)
                        announced = True
                    self._sleep(min(POLL_SECONDS, max(0.0, deadline - self._monotonic())))
            record = {"pid": os.getpid(), "started": self._started}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def release(self) -> None:
        while self._held:
            os.close(self._held.pop())  # closing the descriptor drops the flock

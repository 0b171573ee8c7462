"""The audit log: one JSON line per event of a run, each written whole and fsync'ed, or not at all.

Default location: ``$XDG_STATE_HOME/rdsssl-reconcile/audit.jsonl`` (``~/.local/state/...``), so runs
from any working copy land in one history; ``apply --audit-log FILE`` chooses another. Lines carry
fingerprints and request ids, never key material.

Why it cannot lie:

- **Proven before anything changes.** Opening the log writes and fsyncs a real ``run_started`` record
  (time, pid, tool version, a secret-free summary of the command). If that fails (``/dev/full``, a full
  disk, a read-only directory, a file that is not a regular file) the run stops with a
  :class:`~rdsssl_reconcile.errors.UserError` naming ``--audit-log`` before any cloud call.
- **Whole records or none.** Every record is one line, ``{"time", "kind", "run_id", ...}`` and a
  newline, appended under an exclusive ``flock`` of the file (so concurrent runs, and the threads of
  one run, never interleave). The writer remembers the file's size, writes until every byte is out
  (a short write is continued, never ignored), then fsyncs. If any of that fails, the file is
  truncated back to the remembered size and fsync'ed: the record is gone, not half there.
- **Torn lines are marked by construction.** If even the truncation fails (an append-only file, an I/O
  error), or a process was killed mid-write, the file ends in a fragment without a newline. Before
  writing, the writer reads the last byte under the lock and, if it is not a newline, starts its record
  with `` #torn`` and a newline: the fragment ends up alone on its line, with a marker after which no
  JSON object can parse (even a fragment that is a whole object but lost its newline). The reader,
  :func:`read_audit_log`, takes as records only lines that are a complete JSON object with ``kind``
  and ``time``; every other line (marked, cut short, or the unterminated last line) is reported as
  torn with its line number and skipped, never guessed at.
- **A failure names the record that failed.** It is described (kind, instance, outcome) in
  ``failures``, in write order, and :class:`AuditWriteError` is raised for the caller to decide (the
  executor does not send a modify whose ``sending`` record could not be written). :meth:`AuditLog.note`
  is the same without the raise, for records written after a change was sent: stopping there would
  abandon a restart in progress.
- **No locks, no truncation.** On a filesystem without ``flock`` (``ENOLCK``) records are still
  written, but a failed one is left torn (and marked by the next writer) rather than truncated, which
  could cut a record another process appended meanwhile.

Every record of a run carries the same ``run_id``, so the records of runs that share a file can be
told apart.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile import __version__
from rdsssl_reconcile.errors import UserError

#: ``flock`` errors that mean "this filesystem has no locks", not "this file is broken".
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL})
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def default_audit_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "rdsssl-reconcile" / "audit.jsonl"


class AuditWriteError(UserError):
    """A record could not be written whole; the log holds none of it (or a torn line readers skip)."""


class _Left:
    """What a failed append left in the file."""

    NOTHING = "nothing"  # truncated back, or nothing was written
    TORN = "torn"  # a fragment without a newline: the next writer marks it
    UNCONFIRMED = "unconfirmed"  # the whole line, but fsync failed and it could not be removed


_LEFT = {
    _Left.NOTHING: "; the log was left as it was before",
    _Left.TORN: "; a partial line was left at the end of the log (readers skip it)",
    _Left.UNCONFIRMED: "; the record may be in the log but was not confirmed on disk",
}

#: Ends a torn line left by an earlier write before a new record: the line can then never parse as a
#: record (JSON allows no text after the object), even if the fragment happened to be a whole object.
TORN_MARKER = b" #torn\n"


class _AppendFailed(Exception):
    def __init__(self, why: str, *, left: str) -> None:
        super().__init__(why)
        self.why = why
        self.left = left


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out: a short write (a filling disk) is continued, never ignored."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "the write made no progress")
        view = view[written:]


def _truncate(fd: int, size: int) -> bool:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        return False
    return True


def _lock(fd: int) -> bool:
    """Take an exclusive lock for one record; False if the filesystem has no locks at all."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno in _NO_LOCKS:
            return False
        raise
    return True


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _append_line(path: Path, line: bytes) -> None:
    """Append ``line`` (newline-terminated) whole, or leave the file as it was; see the module docstring.

    Raises OSError when nothing was written, :class:`_AppendFailed` when writing failed part-way.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        pass
    else:
        # Checked before opening so that a device is never opened, and again after (the path may move).
        if not stat.S_ISREG(mode):
            raise _AppendFailed(f"it is {_kind_of(mode)}, not a regular file", left=_Left.NOTHING)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _AppendFailed(f"it is {_kind_of(mode)}, not a regular file", left=_Left.NOTHING)
        locked = _lock(fd)
        size = os.fstat(fd).st_size
        data = line
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = TORN_MARKER + line  # a torn line was left before: mark and end it
        whole = False
        try:
            _write_all(fd, data)
            whole = True
            os.fsync(fd)
        except OSError as exc:
            # Without the lock, another writer may have appended after us: truncating would cut it.
            repaired = locked and _truncate(fd, size)
            left = _Left.NOTHING if repaired else (_Left.UNCONFIRMED if whole else _Left.TORN)
            raise _AppendFailed(_why(exc), left=left) from None
    finally:
        os.close(fd)  # also releases the lock


def _fsync_directory(directory: Path) -> None:
    """Make a newly created log's directory entry durable; best effort (some filesystems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        # mkdir says "File exists" when an ancestor is a file: name that ancestor instead.
        blocking = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), directory)
        raise OSError(errno.ENOTDIR, f"{blocking} is not a directory") from None


#: Text that is never written to the log: PEM armour (a key pasted where a path belongs, say).
_PEM_MARKERS = ("-----BEGIN", "PRIVATE KEY")


def _scrub(value: Any) -> Any:
    """Redact PEM text anywhere in a record; the callers never pass key material, this makes sure."""
    if isinstance(value, str):
        return "[redacted: PEM text]" if any(m in value for m in _PEM_MARKERS) else value
    if isinstance(value, Mapping):
        return {_scrub(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    return value


def describe_record(kind: str, fields: Mapping[str, Any]) -> str:
    """``the call record of pgm-a (outcome sending)``: how a failure names the record it lost."""
    text = f"the {kind} record"
    if fields.get("instance"):
        text += f" of {fields['instance']}"
    if fields.get("outcome"):
        text += f" (outcome {fields['outcome']})"
    return text


class AuditLog:
    """Append-only JSON lines; safe to call from several worker threads and several processes.

    ``AuditLog(path, run=...)`` (or :meth:`open`) writes the ``run_started`` record at once, so a log
    that cannot be written is a user error before any cloud call, not a surprise halfway through a
    fleet. ``AuditLog(None)`` records nothing (tests of the executor).
    """

    def __init__(
        self, path: Path | None, *, run: Mapping[str, Any] | None = None, time: datetime | None = None
    ) -> None:
        self.path = path
        self.failures: list[str] = []
        self.run_id = uuid.uuid4().hex
        self._lock = threading.Lock()
        if path is not None:
            self._start(path, dict(run or {}), time or datetime.now(UTC))

    @classmethod
    def open(cls, path: Path | None, *, run: Mapping[str, Any], time: datetime | None = None) -> AuditLog:
        """Create the directory, then write and fsync ``run_started``; a UserError if that fails."""
        return cls(path, run=run, time=time)

    def _start(self, path: Path, run: dict[str, Any], time: datetime) -> None:
        try:
            _make_directory(path.parent)
            existed = path.exists()
            line = self._line("run_started", time, {"pid": os.getpid(), "tool_version": __version__, **run})
            with self._lock:
                _append_line(path, line)
        except (OSError, _AppendFailed) as exc:
            why = exc.why if isinstance(exc, _AppendFailed) else _why(exc)
            raise UserError(
                f"--audit-log {path}: cannot write the audit log: {why}. Nothing was changed: the run stops "
                "before any cloud call. Expected a writable regular file on a filesystem with free space."
            ) from None
        if not existed:
            _fsync_directory(path.parent)

    def _line(self, kind: str, time: datetime, fields: Mapping[str, Any]) -> bytes:
        entry = {"time": time.strftime(_TIME_FORMAT), "kind": kind, "run_id": self.run_id, **_scrub(dict(fields))}
        # ensure_ascii: no raw control or line-separator character can ever split or disguise a line.
        return (json.dumps(entry, ensure_ascii=True, default=str) + "\n").encode("ascii")

    def record(self, kind: str, *, time: datetime, **fields: Any) -> None:
        """Append one record, whole or not at all; on failure note it in ``failures`` and raise."""
        if self.path is None:
            return
        line = self._line(kind, time, fields)
        failure: str | None = None
        with self._lock:
            try:
                _append_line(self.path, line)
            except OSError as exc:
                failure = f"{describe_record(kind, fields)}: {_why(exc)}"
            except _AppendFailed as exc:
                failure = f"{describe_record(kind, fields)}: {exc.why}{_LEFT[exc.left]}"
            if failure is not None:
                self.failures.append(failure)
        if failure is not None:
            raise AuditWriteError(f"--audit-log {self.path}: could not write {failure}")

    def note(self, kind: str, *, time: datetime, **fields: Any) -> None:
        """:meth:`record`, but a failure is only kept in ``failures`` (reported at the end of the run).

        For records written after a change was sent: raising there would abandon a restart in
        progress, unwaited for and unreported, which is worse than a missing line.
        """
        with contextlib.suppress(AuditWriteError):
            self.record(kind, time=time, **fields)


@dataclass(frozen=True, slots=True)
class TornLine:
    """A line of the log that is not a whole record: what is left of a write that was cut short."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class AuditLogRead:
    """Every whole record in file order, and the torn lines that were skipped."""

    records: tuple[dict[str, Any], ...]
    torn: tuple[TornLine, ...]

    @property
    def complete(self) -> bool:
        return not self.torn


def _parse_line(raw: bytes) -> dict[str, Any] | str:
    """The record on this line, or why it is not one."""
    if raw.endswith(TORN_MARKER.rstrip(b"\n")):
        return "marked torn by the next writer (a record cut short)"
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError:
        return "not a complete JSON object (a record cut short)"
    if not isinstance(value, dict):
        return "not a JSON object"
    if not isinstance(value.get("kind"), str) or not isinstance(value.get("time"), str):
        return "a JSON object without the 'kind' and 'time' of a record"
    return value


def parse_audit_log(data: bytes) -> AuditLogRead:
    """Split on newlines only (never on other line separators); a last line without one is torn."""
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline, as a whole log does
    records: list[dict[str, Any]] = []
    torn: list[TornLine] = []
    for number, raw in enumerate(lines, start=1):
        parsed = _parse_line(raw)
        if isinstance(parsed, str):
            torn.append(TornLine(line=number, text=raw.decode("utf-8", "replace")[:200], reason=parsed))
        else:
            records.append(parsed)
    if last:
        torn.append(
            TornLine(
                line=len(lines) + 1,
                text=last.decode("utf-8", "replace")[:200],
                reason="no newline at the end (the last write was cut short)",
            )
        )
    return AuditLogRead(records=tuple(records), torn=tuple(torn))


def read_audit_log(path: Path) -> AuditLogRead:
    """Read a whole audit log; never raises on content, only on an unreadable file (OSError)."""
    return parse_audit_log(path.read_bytes())

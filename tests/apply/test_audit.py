"""The audit log writes whole records or none, and its reader skips exactly what was torn."""

from __future__ import annotations

import errno
import fcntl
import json
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile import __version__
from rdsssl_reconcile.apply.audit import (
    TORN_MARKER,
    AuditLog,
    AuditWriteError,
    parse_audit_log,
    read_audit_log,
)
from rdsssl_reconcile.errors import UserError

T0 = datetime(2027, 3, 1, 2, 0, 0, tzinfo=UTC)
RUN = {"command": "apply", "paths": ["specs"]}
real_write = os.write


def call(log: AuditLog, instance: str, outcome: str = "sending") -> None:
    log.record("call", time=T0, instance=instance, action="ModifyDBInstanceSSL", outcome=outcome)


def half_then(error: int | None, *, after: int = 0) -> Callable[[int, Any], int]:
    """An ``os.write`` (patched for the whole process, for the length of one test) that lets ``after`` writes through, then writes half of each buffer (a filling
    disk); with ``error``, the write after a short one fails with that errno, as a full disk does."""
    state = {"calls": 0, "short": False}

    def write(fd: int, data: Any) -> int:
        state["calls"] += 1
        if state["calls"] <= after:
            return real_write(fd, data)
        if state["short"] and error is not None:
            raise OSError(error, os.strerror(error))
        state["short"] = True
        return real_write(fd, bytes(data)[: max(1, len(data) // 2)])

    return write


# -- opening: the run_started record --------------------------------------------------------------------


def test_open_writes_and_fsyncs_run_started_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "new" / "dir" / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    read = read_audit_log(path)
    assert read.complete
    assert read.records == (
        {
            "time": "2027-03-01T02:00:00Z",
            "kind": "run_started",
            "run_id": log.run_id,
            "pid": os.getpid(),
            "tool_version": __version__,
            **RUN,
        },
    )
    assert synced, "the run_started record was not fsync'ed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_every_record_of_a_run_carries_its_run_id(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog.open(path, run=RUN, time=T0), AuditLog.open(path, run=RUN, time=T0)
    call(first, "pgm-a")
    call(second, "pgm-b")
    records = read_audit_log(path).records
    assert [(r["kind"], r["run_id"]) for r in records] == [
        ("run_started", first.run_id),
        ("run_started", second.run_id),
        ("call", first.run_id),
        ("call", second.run_id),
    ]
    assert first.run_id != second.run_id


def _directory(tmp: Path) -> Path:
    (tmp / "dir").mkdir()
    return tmp / "dir"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "fifo")
    return tmp / "fifo"


def _under_a_file(tmp: Path) -> Path:
    (tmp / "file").write_text("", encoding="utf-8")
    return tmp / "file" / "audit.jsonl"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        pytest.param(lambda _: Path("/dev/full"), "it is a character device", id="dev-full"),
        pytest.param(lambda _: Path("/dev/null"), "it is a character device", id="dev-null"),
        pytest.param(_directory, "it is a directory", id="directory"),
        pytest.param(_fifo, "it is a named pipe", id="fifo"),
        pytest.param(_under_a_file, "{tmp}/file is not a directory", id="file-as-dir"),
    ],
)
def test_a_log_that_is_not_a_writable_regular_file_is_a_user_error(
    tmp_path: Path, make: Callable[[Path], Path], why: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(UserError) as raised:
        AuditLog.open(path, run=RUN, time=T0)
    message = str(raised.value)
    assert message.startswith(f"--audit-log {path}: cannot write the audit log: {why.format(tmp=tmp_path)}")
    assert "Nothing was changed" in message
    assert not isinstance(raised.value, AuditWriteError)


def test_a_full_disk_at_open_is_a_user_error_and_leaves_no_partial_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"")
    monkeypatch.setattr(os, "write", half_then(errno.ENOSPC))
    with pytest.raises(UserError, match=r"cannot write the audit log: No space left on device\. Nothing was changed"):
        AuditLog.open(path, run=RUN, time=T0)
    assert path.read_bytes() == b""


def test_a_disabled_log_writes_nothing(tmp_path: Path) -> None:
    log = AuditLog(None)
    call(log, "pgm-a")
    assert log.failures == []
    assert list(tmp_path.iterdir()) == []


# -- short writes and failures ----------------------------------------------------------------------------


def test_a_short_write_is_continued_until_the_record_is_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    monkeypatch.setattr(os, "write", half_then(None))
    call(log, "pgm-a")
    read = read_audit_log(path)
    assert read.complete
    assert [r["kind"] for r in read.records] == ["run_started", "call"]
    assert log.failures == []


def test_a_short_write_then_a_full_disk_removes_the_partial_record_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    call(log, "pgm-a", "sending")
    before = path.read_bytes()
    monkeypatch.setattr(os, "write", half_then(errno.ENOSPC))
    with pytest.raises(AuditWriteError) as raised:
        call(log, "pgm-b", "sending")
    assert path.read_bytes() == before, "the half-written record was not removed"
    assert log.failures == [
        "the call record of pgm-b (outcome sending): No space left on device; the log was left as it was before"
    ]
    assert str(raised.value) == f"--audit-log {path}: could not write {log.failures[0]}"
    monkeypatch.setattr(os, "write", real_write)
    call(log, "pgm-c", "sending")
    read = read_audit_log(path)
    assert read.complete
    assert [r.get("instance") for r in read.records] == [None, "pgm-a", "pgm-c"]


def test_failures_are_kept_in_write_order_naming_each_lost_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    monkeypatch.setattr(os, "write", half_then(errno.ENOSPC))
    for instance, outcome in (("pgm-a", "sending"), ("pgm-a", "unknown"), ("pgm-b", "sending")):
        with pytest.raises(AuditWriteError):
            call(log, instance, outcome)
    log.note("result", time=T0, instance="pgm-b", outcome="applied")  # noted, not raised
    assert [f.split(":")[0] for f in log.failures] == [
        "the call record of pgm-a (outcome sending)",
        "the call record of pgm-a (outcome unknown)",
        "the call record of pgm-b (outcome sending)",
        "the result record of pgm-b (outcome applied)",
    ]
    assert read_audit_log(path).complete


def test_when_the_partial_record_cannot_be_removed_the_next_record_marks_it_torn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    monkeypatch.setattr(os, "write", half_then(errno.ENOSPC))
    with pytest.raises(AuditWriteError, match="a partial line was left at the end of the log"):
        call(log, "pgm-a")
    assert not path.read_bytes().endswith(b"\n")
    monkeypatch.setattr(os, "write", real_write)
    call(log, "pgm-b")
    call(log, "pgm-c")
    read = read_audit_log(path)
    assert [r.get("instance") for r in read.records] == [None, "pgm-b", "pgm-c"]
    assert len(read.torn) == 1
    torn = read.torn[0]
    assert torn.line == 2
    assert torn.text.startswith('{"time": "2027-03-01T02:00:00Z", "kind": "call"')
    assert "torn" in torn.reason


def test_a_fragment_that_lost_only_its_newline_is_never_read_as_a_record(tmp_path: Path) -> None:
    # A process killed between the last brace and the newline leaves a whole JSON object unterminated.
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    with path.open("ab") as handle:
        handle.write(json.dumps({"time": "2027-03-01T02:00:00Z", "kind": "call", "instance": "pgm-x"}).encode())
    unterminated = read_audit_log(path)
    assert [t.line for t in unterminated.torn] == [2]
    assert "no newline" in unterminated.torn[0].reason
    call(log, "pgm-b")
    read = read_audit_log(path)
    assert [r.get("instance") for r in read.records] == [None, "pgm-b"]
    assert [t.line for t in read.torn] == [2]
    assert path.read_bytes().count(TORN_MARKER) == 1


def test_a_record_written_whole_but_not_confirmed_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)

    def failing(*_: Any) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing)
    monkeypatch.setattr(os, "ftruncate", failing)
    with pytest.raises(AuditWriteError, match="Input/output error; the record may be in the log but was not confirmed"):
        call(log, "pgm-a")


def test_without_file_locks_a_failed_write_is_not_truncated_over_other_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    truncated: list[int] = []

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(os, "ftruncate", lambda fd, size: truncated.append(size))
    call(log, "pgm-a")  # still written: a filesystem without locks is not a reason to stop
    monkeypatch.setattr(os, "write", half_then(errno.ENOSPC))
    with pytest.raises(AuditWriteError, match="a partial line was left"):
        call(log, "pgm-b")
    assert truncated == []
    monkeypatch.setattr(os, "write", real_write)
    call(log, "pgm-c")
    read = read_audit_log(path)
    assert [r.get("instance") for r in read.records] == [None, "pgm-a", "pgm-c"]
    assert [t.line for t in read.torn] == [3]


# -- concurrency ----------------------------------------------------------------------------------------


def _write_many(path: str, name: str, count: int) -> None:
    log = AuditLog.open(Path(path), run={"command": name}, time=T0)
    for number in range(count):
        log.record("call", time=T0, instance=f"{name}-{number}", padding="x" * 5000)


def test_concurrent_runs_and_threads_never_interleave_records(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_many, args=(str(path), f"p{n}", 40)) for n in range(3)]
    for process in processes:
        process.start()
    threads = [threading.Thread(target=_write_many, args=(str(path), f"t{n}", 40)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    read = read_audit_log(path)
    assert read.complete
    calls = sorted(r["instance"] for r in read.records if r["kind"] == "call")
    assert calls == sorted(f"{w}-{n}" for w in ("p0", "p1", "p2", "t0", "t1", "t2") for n in range(40))


# -- the reader -----------------------------------------------------------------------------------------


def test_values_with_line_breaks_and_control_characters_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog.open(path, run=RUN, time=T0)
    odd = "a\nb\rc\u2028d\u2029e\x1b[2Af\x85g"
    log.record("call", time=T0, instance=odd)
    assert path.read_bytes().count(b"\n") == 2
    assert read_audit_log(path).records[1]["instance"] == odd


def test_pem_text_never_reaches_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    log = AuditLog.open(path, run={"command": "apply", "paths": [pem, "specs"]}, time=T0)
    log.record("call", time=T0, instance="pgm-a", certificates={"ServerCert": pem, pem: 1})
    text = path.read_text(encoding="ascii")
    assert "PRIVATE KEY" not in text
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in text
    records = read_audit_log(path).records
    assert records[0]["paths"] == ["[redacted: PEM text]", "specs"]
    assert records[1]["certificates"] == {"ServerCert": "[redacted: PEM text]", "[redacted: PEM text]": 1}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(b'{"time": "t", "kind": "call", "inst', "not a complete JSON object", id="cut-short"),
        pytest.param(b'{"time": "t", "kind": "ca' + TORN_MARKER.rstrip(b"\n"), "marked torn", id="marked"),
        pytest.param(b'{"time": "t", "kind": "call"}' + TORN_MARKER.rstrip(b"\n"), "marked torn", id="marked-whole"),
        pytest.param(b"[1, 2]", "not a JSON object", id="array"),
        pytest.param(b'{"time": "t"}', "without the 'kind' and 'time'", id="no-kind"),
        pytest.param(b'{"time": 5, "kind": "call"}', "without the 'kind' and 'time'", id="time-not-text"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="not-utf8"),
        pytest.param(b"", "not a complete JSON object", id="empty-line"),
    ],
)
def test_the_reader_skips_every_line_that_is_not_a_whole_record(line: bytes, reason: str) -> None:
    good = b'{"time": "t", "kind": "run_started"}\n'
    read = parse_audit_log(good + line + b"\n" + good)
    assert read.records == ({"time": "t", "kind": "run_started"},) * 2
    assert [(t.line, reason in t.reason) for t in read.torn] == [(2, True)]


def test_the_reader_of_an_empty_log_finds_nothing() -> None:
    read = parse_audit_log(b"")
    assert read.records == ()
    assert read.complete

"""``apply`` with an audit log that cannot be written: it changes nothing, or it leaves a log that parses.

Real faults where this process may make them (as root: a read-only tmpfs, a tmpfs of one page), an
injected write failure where it may not; each test says which one ran in its assertion messages. Every
scenario ends by reading the whole log with :func:`read_audit_log` and finding no torn line.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.apply import audit
from rdsssl_reconcile.apply.audit import read_audit_log
from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, aliyun_spec, instance_entry, write_spec

pytestmark = pytest.mark.e2e
FAST = ("--auto-approve", "--poll-interval", "0.05")
PAGE = 4096  # a tmpfs of size=4k holds exactly one page of file data

Cli = Callable[..., CliResult]
Mount = Callable[[str, str], Path | None]
real_write_all = audit._write_all


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mount]:
    """``mount(name, options)``: a tmpfs on ``tmp_path/name``, or None if this process may not mount.

    Everything mounted is unmounted when the test ends, pass or fail.
    """
    mounted: list[Path] = []

    def make(name: str, options: str) -> Path | None:
        target = tmp_path / name
        target.mkdir()
        if os.geteuid() != 0:
            return None
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True, check=False
        )
        if done.returncode != 0:
            return None
        mounted.append(target)
        return target

    try:
        yield make
    finally:
        for target in reversed(mounted):
            if subprocess.run(["umount", str(target)], capture_output=True, check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def fail_writes_after(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    """Injected full disk: the first ``allowed`` records are written, each later one half, then ENOSPC."""
    count = {"writes": 0}

    def write_all(fd: int, data: bytes) -> None:
        count["writes"] += 1
        if count["writes"] <= allowed:
            real_write_all(fd, data)
            return
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit, "_write_all", write_all)


def fill(path: Path) -> None:
    """Write zeros until the filesystem is full to the last byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 1024)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def fleet(emulator: RunningEmulator, spec_dir: Path, *ids: str) -> None:
    emulator.admin.add_instances([instance_entry(i) for i in ids])
    write_spec(spec_dir, aliyun_spec(*ids))
    emulator.admin.clear_calls()


def assert_stopped_before_any_call(result: CliResult, emulator: RunningEmulator, log: Path, why: str) -> None:
    assert result.code == 1, result.text
    assert f"Error: --audit-log {log}: cannot write the audit log: {why}" in result.err
    assert "Nothing was changed" in result.err
    assert "Traceback" not in result.text
    assert emulator.admin.calls() == [], "a cloud call was made although the audit log could not be written"


def assert_no_restart_unreported(result: CliResult, emulator: RunningEmulator) -> None:
    """Each instance got at most one accepted modify, and each one that got one is reported applied."""
    accepted: dict[str, int] = {}
    for call in emulator.admin.calls(action="ModifyDBInstanceSSL"):
        if call["outcome"] == "ok":
            accepted[call["instance_id"]] = accepted.get(call["instance_id"], 0) + 1
    assert all(n == 1 for n in accepted.values()), accepted
    for instance_id in accepted:
        assert re.search(rf"^\s*{instance_id}\s+applied\b", result.out, re.MULTILINE), result.text


def this_run(records: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """The records of the last run in the log (after its run_started)."""
    starts = [i for i, r in enumerate(records) if r["kind"] == "run_started"]
    assert starts, "no run_started record"
    run_id = records[starts[-1]]["run_id"]
    return [r for r in records[starts[-1] :] if r["run_id"] == run_id]


# -- the run stops before any cloud call ------------------------------------------------------------


def test_dev_full_stops_the_run_before_any_cloud_call(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    fleet(cloud_env, spec_dir, "pgm-a")
    result = cli("apply", str(spec_dir), *FAST, "--audit-log", "/dev/full")
    assert_stopped_before_any_call(result, cloud_env, Path("/dev/full"), "it is a character device, not a regular file")


@pytest.mark.parametrize("relative", ["audit.jsonl", "sub/dir/audit.jsonl"], ids=["file", "missing-directory"])
def test_a_read_only_directory_stops_the_run_before_any_cloud_call(
    cli: Cli,
    cloud_env: RunningEmulator,
    spec_dir: Path,
    mount: Mount,
    monkeypatch: pytest.MonkeyPatch,
    relative: str,
) -> None:
    fleet(cloud_env, spec_dir, "pgm-a")
    directory = mount("read-only", "ro,size=64k")
    if directory is not None:
        why = os.strerror(errno.EROFS)  # a read-only mount: root cannot write there either
    elif os.geteuid() != 0:
        directory = spec_dir.parent / "read-only"
        directory.chmod(0o555)
        why = os.strerror(errno.EACCES)
    else:  # root that may not mount: directory modes do not stop root, so inject the refusal
        directory = spec_dir.parent / "read-only"
        why = os.strerror(errno.EROFS)

        def read_only(*_: Any, **__: Any) -> None:
            raise OSError(errno.EROFS, why)

        monkeypatch.setattr(audit, "_append_line", read_only)
        monkeypatch.setattr(Path, "mkdir", read_only)
    log = directory / relative
    result = cli("apply", str(spec_dir), *FAST, "--audit-log", str(log))
    assert_stopped_before_any_call(result, cloud_env, log, why)
    assert not log.exists()


def test_a_full_filesystem_stops_the_run_before_any_cloud_call(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, mount: Mount, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(cloud_env, spec_dir, "pgm-a")
    directory = mount("full", f"size={PAGE}")
    if directory is not None:
        fill(directory / "filler")
    else:
        directory = spec_dir.parent / "full"
        fail_writes_after(monkeypatch, 0)
    log = directory / "audit.jsonl"
    result = cli("apply", str(spec_dir), *FAST, "--audit-log", str(log))
    assert_stopped_before_any_call(result, cloud_env, log, "No space left on device")
    read = read_audit_log(log)
    assert read.records == ()
    assert read.complete, read.torn


# -- the disk fills mid-run ---------------------------------------------------------------------------------


def test_a_disk_that_fills_mid_run_leaves_a_log_that_parses_and_a_failing_exit(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, mount: Mount, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(cloud_env, spec_dir, "pgm-a", "pgm-b", "pgm-c")
    directory = mount("filling", f"size={PAGE}")
    previous = b'{"time": "2027-01-01T00:00:00Z", "kind": "run_started", "run_id": "earlier"}\n'
    room = 1500  # run_started fits; the records of three changes (several hundred bytes each) do not
    if directory is not None:
        log = directory / "audit.jsonl"
        log.write_bytes(previous * ((PAGE - room) // len(previous)))
    else:
        log = spec_dir.parent / "audit.jsonl"
        log.write_bytes(previous)
        fail_writes_after(monkeypatch, 2)  # run_started and one more record, then a full disk
    before = log.read_bytes()
    result = cli("apply", str(spec_dir), *FAST, "--max-restarts", "1", "--audit-log", str(log))

    assert result.code != 0, result.text
    assert "Traceback" not in result.text
    assert str(log) in result.err
    assert "No space left on device" in result.err
    assert log.read_bytes().startswith(before)
    read = read_audit_log(log)
    assert read.complete, read.torn
    records = this_run(read.records)
    assert records[0]["kind"] == "run_started"
    assert len(records) > 1, "the disk was meant to fill after some records of this run, not before"
    # The error names the first record that was lost, and that record is indeed not in the log.
    named = re.search(r"the (\w+) record of (\S+) \(outcome ([^)]+)\)", result.err)
    assert named, result.err
    kind, instance, outcome = named.groups()
    assert (kind, instance, outcome) not in {(r["kind"], r.get("instance"), r.get("outcome")) for r in records}
    assert_no_restart_unreported(result, cloud_env)


def test_audit_writes_failing_after_run_started_never_abandon_a_restart(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every write after run_started fails. Whatever was sent must still be waited for, proven and
    # reported, with --max-restarts respected; the run fails at the end, and the log still parses.
    fleet(cloud_env, spec_dir, "pgm-a", "pgm-b")
    log = tmp_path / "audit.jsonl"
    fail_writes_after(monkeypatch, 1)
    result = cli("apply", str(spec_dir), *FAST, "--max-restarts", "1", "--audit-log", str(log))
    assert result.code != 0, result.text
    assert f"the audit log {log} could not be written" in result.err or f"--audit-log {log}" in result.err
    assert_no_restart_unreported(result, cloud_env)
    from tests.e2e.test_apply import busy_intervals

    assert busy_intervals(cloud_env) <= 1
    read = read_audit_log(log)
    assert read.complete, read.torn
    assert [r["kind"] for r in read.records] == ["run_started"]

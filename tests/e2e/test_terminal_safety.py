"""Control sequences from specs, files, certificates, CRLs and the API never reach the terminal raw.

Each outside string of one hostile world carries ESC[2A (cursor up: overwrite what the approver read),
an OSC 52 clipboard write, BEL, CR, a bidi override or a C1 CSI. ``plan``, ``validate``, ``certs inspect``
and the plan ``apply`` prints before its ``yes`` prompt must show them escaped (``\\x1b``), in text,
Markdown and JSON; the terminal output, colours on, is fed to a terminal emulator (pyte) whose screen
must show exactly the text of the plan.
"""

from __future__ import annotations

import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fcntl import ioctl
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from rdsssl_reconcile.cli import cli as cli_group
from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.pem import crl_to_pem
from rdsssl_reconcile.textsafe import is_unsafe, visible
from tests.e2e.conftest import CliResult, endpoint_of, instance_entry, write_spec
from tests.pki.builders import Made, ec_key, key_usage, make_ca, make_cert, rsa_key
from tests.support.terminal import assert_screen_shows, intended_lines, render_screen

pytestmark = pytest.mark.e2e

Cli = Callable[..., CliResult]

ESC_UP = "\x1b[2A"
OSC52 = "\x1b]52;c;cm0gLXJmIH4=\x07"  # would put "rm -rf ~" on the clipboard
DESCRIPTION = f"Orders{ESC_UP}{OSC52} approved\r\u202eevil\x9b1A\x08\nPlan: 0 to change, 0 restarts."
CERT_FILE = f"server{ESC_UP}.crt"
SUBJECT_CN = f"db{ESC_UP}subject\x07"
EVIL_SAN = f"x{ESC_UP}.example.com"  # cryptography takes any ASCII in a DNSName, ESC included
SERVER_CA_CN = f"Server CA{OSC52}"
CLIENT_CA_CN = f"Client CA{ESC_UP}\u202e"
API_REASON = f"rejected{ESC_UP}\rPlan: 0 to change{OSC52}"
API_ERROR = f"no such thing{ESC_UP}\x1b]0;title\x07"


@dataclass
class World:
    spec_dir: Path
    cert_path: Path
    crl_path: Path
    server: Made
    server_ca: Made


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, cloud_env: RunningEmulator) -> World:
    now = _now()
    dates = {"not_before": now - timedelta(days=1), "not_after": now + timedelta(days=365)}
    server_ca = make_ca(SERVER_CA_CN, key=ec_key(201), **dates)
    server = make_cert(
        cn=SUBJECT_CN,
        dns=[endpoint_of("pgm-a"), EVIL_SAN],
        key=rsa_key(2048, 201),
        signer=server_ca,
        usage=key_usage(digital_signature=True, key_encipherment=True),
        **dates,
    )
    client_ca = make_ca(CLIENT_CA_CN, key=ec_key(202), **dates)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(client_ca.certificate.subject)
        .last_update(now - timedelta(days=1))
        .next_update(now + timedelta(days=30))
        .sign(client_ca.key, hashes.SHA256())
    )
    spec_dir = tmp_path / "specs"
    cert_path = spec_dir / CERT_FILE
    crl_path = spec_dir / f"client{ESC_UP}.crl"
    spec_dir.mkdir()
    cert_path.write_text(server.cert_pem())
    key_path = spec_dir / "server.key"
    key_path.write_text(server.key_pem())
    key_path.chmod(0o600)
    (spec_dir / "client-ca.crt").write_text(client_ca.cert_pem())
    crl_path.write_text(crl_to_pem(crl))
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-a
            region: cn-hangzhou
            description: {json.dumps(DESCRIPTION)}
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-a")}]
              certificate: {{source: custom, cert: {{file: {json.dumps(CERT_FILE)}}}, key: {{file: server.key}}}}
              client_ca:
                cert: {{file: client-ca.crt}}
                crl: {{file: {json.dumps(crl_path.name)}}}
                acl: verify-ca
        """,
    )
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    cloud_env.admin.set_instance("pgm-a", last_modify_status="failed", modify_status_reason=API_REASON)
    return World(spec_dir=spec_dir, cert_path=cert_path, crl_path=crl_path, server=server, server_ca=server_ca)


def _styled(*args: str) -> tuple[int, str]:
    """Run the CLI with colours forced on, as at a terminal; return the exit code and stdout."""
    result = CliRunner().invoke(cli_group, list(args), color=True, catch_exceptions=False, standalone_mode=False)
    return result.return_value, result.stdout


def _no_raw_controls(text: str) -> None:
    unsafe = sorted({c for c in click.unstyle(text).replace("\r\n", "\n") if is_unsafe(c) and c != "\n"})
    assert not unsafe, f"raw control characters in the output: {unsafe!r}"


def test_plan(cli: Cli, world: World) -> None:
    code, styled = _styled("plan", str(world.spec_dir))
    assert code == 0, styled
    _no_raw_controls(styled)
    screen = assert_screen_shows(styled)
    lines = intended_lines(styled)
    assert screen.rows[screen.index("      # ")] == f"      # {visible(DESCRIPTION)}"
    assert screen.rows[0].startswith("Target: emulator at http://127.0.0.1:")  # nothing above was overwritten
    summary = screen.index("Plan: ")
    assert screen.rows[summary] == "Plan: 1 to change, 1 restart (~3 min), 0 in sync."
    assert summary == len(lines) - 2  # the last line, where it should be
    assert screen.cursor_row == summary + 1
    shown = "\n".join(screen.rows)
    # (the subject is not in a plan: SANs name a certificate there; certs inspect shows it)
    issuer = world.server_ca.certificate.subject.rfc4514_string()  # RFC 4514 escapes the ';' of OSC 52
    for value in (EVIL_SAN, issuer, CLIENT_CA_CN, CERT_FILE, world.crl_path.name, API_REASON):
        assert visible(value) in shown, value

    # Not a terminal: the same escapes (click strips only CSI sequences, and there are none left to strip).
    plain = cli("plan", str(world.spec_dir))
    assert plain.code == 0, plain.text
    assert plain.out.splitlines()[2:] == lines[2:-1]

    markdown = cli("plan", str(world.spec_dir), "--format", "markdown")
    _no_raw_controls(markdown.out)
    assert f"Description: {visible(DESCRIPTION)}" in markdown.out
    assert visible(EVIL_SAN) in markdown.out
    assert_screen_shows(markdown.out)

    document = cli("plan", str(world.spec_dir), "--format", "json").out
    assert document.isascii()
    assert json.loads(document)["instances"][0]["description"] == DESCRIPTION


def test_api_error_message(cli: Cli, world: World, cloud_env: RunningEmulator) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-b")])
    cloud_env.admin.add_fault(
        kind="error",
        action="DescribeDBInstanceSSL",
        instance_id="pgm-b",
        code="Forbidden",
        status=403,
        message=API_ERROR,
    )
    write_spec(
        world.spec_dir,
        f"instances:\n  - id: pgm-b\n    region: cn-hangzhou\n    ssl: {{enabled: true, endpoints: [{endpoint_of('pgm-b')}], certificate: {{source: aliyun}}}}\n",
    )
    code, styled = _styled("plan", str(world.spec_dir))
    assert code == 1, styled
    _no_raw_controls(styled)
    screen = assert_screen_shows(styled)
    assert visible(API_ERROR) in screen.rows[screen.index("  x pgm-b")]


def test_validate(cli: Cli, world: World) -> None:
    result = cli("validate", str(world.spec_dir))
    assert result.code == 0, result.text
    _no_raw_controls(result.text)
    document = cli("validate", str(world.spec_dir), "--format", "json").out
    assert document.isascii()
    assert json.dumps(CERT_FILE)[1:-1] in document  # the exact path, JSON-escaped (\u001b)
    (world.spec_dir / "broken.yaml").write_text(
        f"instances:\n  - id: pgm-c\n    region: cn-hangzhou\n    description: {json.dumps(DESCRIPTION)}\n"
        f"    ssl: {{enabled: true, endpoints: [{endpoint_of('pgm-c')}], certificate: {{source: custom, "
        f"cert: {{file: {json.dumps('missing' + CERT_FILE)}}}, key: {{file: server.key}}}}}}\n"
    )
    broken = cli("validate", str(world.spec_dir))
    assert broken.code == 1
    _no_raw_controls(broken.err)
    assert visible("missing" + CERT_FILE) in broken.err
    assert_screen_shows(broken.err)


def test_certs_inspect(cli: Cli, world: World) -> None:
    result = cli("certs", "inspect", str(world.cert_path), str(world.crl_path))
    assert result.code == 0, result.text
    _no_raw_controls(result.text)
    screen = assert_screen_shows(result.out)
    assert screen.rows[0] == visible(str(world.cert_path))
    assert f"    subject    CN={visible(SUBJECT_CN)}" in screen.rows
    assert f"    SANs       {endpoint_of('pgm-a')}, {visible(EVIL_SAN)}" in screen.rows
    assert any(row.startswith("    issuer     CN=Server CA\\x1b]52") for row in screen.rows)
    assert f"    issuer     CN={visible(CLIENT_CA_CN)}" in screen.rows  # the CRL's issuer
    document = cli("certs", "inspect", str(world.cert_path), "--format", "json").out
    assert document.isascii()
    payload = json.loads(document)["files"][0]
    assert payload["path"] == str(world.cert_path)
    assert EVIL_SAN in payload["blocks"][0]["certificate"]["dns_names"]


def test_error_messages(cli: Cli, world: World, cloud_env: RunningEmulator, tmp_path: Path) -> None:
    """Every error goes through the boundary's escaping: click's, ours, the system's and the API's."""
    not_pem = tmp_path / f"notes{ESC_UP}\r.txt"
    not_pem.write_text("hello\n")
    cloud_env.admin.add_fault(
        kind="error", action="DescribeDBInstances", code=f"Denied{ESC_UP}", status=403, message=API_ERROR
    )
    cases = {
        "not PEM": (["certs", "inspect", str(not_pem)], "notes"),
        "click usage": (["plan", f"--format=x{ESC_UP}"], "--format"),
        "OSError file name": (
            ["schema", "--out", str(tmp_path / f"no{OSC52}dir" / "s.json")],
            visible(f"no{OSC52}dir"),
        ),
        "API error": (["plan", str(world.spec_dir)], visible(API_ERROR)),  # the listing call fails
    }
    for name, (args, expected) in cases.items():
        result = cli(*args)
        assert result.code == 1, (name, result.text)
        _no_raw_controls(result.text)
        assert expected in result.text, (name, result.text)
        assert_screen_shows(result.err)
        assert_screen_shows(result.out)


# -- apply at a real terminal ----------------------------------------------------------------------------


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {data.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
    return data


def test_apply_prompt_at_a_terminal(cli: Cli, world: World, cloud_env: RunningEmulator, tmp_path: Path) -> None:
    """The plan apply shows right before 'yes' is the plan, and the screen shows exactly that."""
    planned = cli("plan", str(world.spec_dir))
    assert planned.code == 0, planned.text
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 400, 0, 0))
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "RDSSSL_ENDPOINT": cloud_env.endpoint,
        "TERM": "xterm-256color",
    }
    env.pop("NO_COLOR", None)
    cloud_env.admin.clear_calls()
    process = subprocess.Popen(
        [sys.executable, "-m", "rdsssl_reconcile", "apply", str(world.spec_dir)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
        close_fds=True,
    )
    os.close(slave)
    try:
        shown = _read_until(master, b"Only 'yes' will be accepted: ", timeout=60).decode()
        os.write(master, b"no\n")
        rest = _read_until(master, b"Nothing was changed.", timeout=30).decode()
        assert process.wait(timeout=30) == 1
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert "\x1b[" in shown  # colours on: a raw cursor move would have got through too
    _no_raw_controls(shown)
    screen = render_screen(shown, tty_newlines=False)
    assert_screen_shows(shown, tty_newlines=False)
    plan_lines = planned.out.splitlines()
    rows = screen.rows[: len(plan_lines)]
    # Exactly the plan (apart from the second it was made at), nothing above it overwritten.
    assert [r for r in rows if not r.startswith("Planned at")] == [
        line for line in plan_lines if not line.startswith("Planned at")
    ]
    assert f"      # {visible(DESCRIPTION)}" in rows
    assert rows[-1] == "Plan: 1 to change, 1 restart (~3 min), 0 in sync."
    assert screen.rows[len(plan_lines) + 1].startswith("Do you want to perform these actions? 1 instance(s)")
    assert screen.cursor_row == len(plan_lines) + 2  # the prompt line
    assert "Apply cancelled. Nothing was changed." in rest
    assert cloud_env.admin.calls(action="ModifyDBInstanceSSL") == []

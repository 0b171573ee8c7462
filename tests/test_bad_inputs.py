"""Bad inputs of issue 8, one named row each: refused with exit 1 and a located message, never an internal error.

Every row runs the real CLI (in-process, or in a forked child that drops privileges where root would read
what nobody else can) and asserts: exit 1; a message naming where (option, file, key path) and what was
expected; no "Internal error"; no traceback; and, where a cloud call could happen, that the emulator's call
log is empty. Malformed saved plan files are tested elsewhere (tests of the plan file).
"""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.clock import EARLIEST_NOW, LATEST_NOW, MAX_VALIDITY_DAYS
from rdsssl_reconcile.cloud.target import resolve_target
from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.pki.authority import CertificateAuthority, KeyType
from tests.support.unprivileged import Result, run_unprivileged, shared_directory

pytestmark = pytest.mark.e2e

INSTANCE = "pgm-bad-input"
ENDPOINT = f"{INSTANCE}.pg.rds.aliyuncs.com"


@dataclass
class World:
    """A running emulator with one instance, a valid spec directory, and a scratch directory."""

    emulator: RunningEmulator
    specs: Path
    tmp: Path

    def cli(self, *args: str) -> Result:
        return _run_captured(list(args))

    def calls(self) -> list[dict[str, Any]]:
        return self.emulator.admin.calls()


def _run_captured(args: list[str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        code = run(args)
    finally:
        sys.stdout, sys.stderr = saved
    return Result(code=code, out=out.getvalue(), err=err.getvalue())


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


ALIYUN_SPEC = f"""
instances:
  - id: {INSTANCE}
    region: cn-hangzhou
    ssl: {{enabled: true, endpoints: [{ENDPOINT}], certificate: {{source: aliyun}}}}
"""


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with run_emulator({"instances": [{"id": INSTANCE, "region": "cn-hangzhou"}]}) as emulator:
        monkeypatch.setenv("RDSSSL_ENDPOINT", emulator.endpoint)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        monkeypatch.delenv("RDSSSL_NOW", raising=False)
        monkeypatch.chdir(tmp_path)
        specs = tmp_path / "specs"
        write(specs / "spec.yaml", ALIYUN_SPEC)
        emulator.admin.clear_calls()
        yield World(emulator=emulator, specs=specs, tmp=tmp_path)


def assert_refused(result: Result, *where: str, world: World | None = None) -> None:
    """Exit 1, every ``where`` in the message, no internal error, no traceback, no cloud call."""
    assert result.code == 1, result.text
    for needle in where:
        assert needle in result.err, f"{needle!r} not in: {result.err}"
    assert "Internal error" not in result.text
    assert "Traceback" not in result.text
    if world is not None:
        assert world.calls() == [], "a cloud call was made before the input was refused"


# ------------------------------------------------------------------------------------ numeric options

#: (command words, option, extra arguments the command needs to reach option parsing cleanly)
NUMERIC_OPTIONS: list[tuple[tuple[str, ...], str, tuple[str, ...]]] = [
    (("plan",), "--timeout", ()),
    (("plan",), "--parallelism", ()),
    (("apply",), "--timeout", ("--auto-approve",)),
    (("apply",), "--parallelism", ("--auto-approve",)),
    (("apply",), "--max-restarts", ("--auto-approve",)),
    (("apply",), "--instance-timeout", ("--auto-approve",)),
    (("apply",), "--poll-interval", ("--auto-approve",)),
    (("certs", "ca", "create"), "--days", ("--cn", "test-ca", "--out", "ca-out")),
    (("certs", "issue"), "--days", ("--ca-cert", "ca.crt", "--ca-key", "ca.key", "--endpoint", "a.b", "--out", "o")),
    (("certs", "check"), "--renew-before-days", ("--cert", "server.crt", "--endpoint", "a.b")),
    (("emulator", "serve"), "--port", ()),
    (("emulator", "serve"), "--restart-seconds", ()),
    (("emulator", "serve"), "--seed", ()),
]
BAD_NUMBERS = ("nan", "inf", "-inf", "-1", "1e999", "99999999999999999999")


@pytest.mark.parametrize(
    ("command", "option", "extra", "value"),
    [
        pytest.param(command, option, extra, value, id=f"{' '.join(command)} {option} {value}")
        for command, option, extra in NUMERIC_OPTIONS
        for value in BAD_NUMBERS
    ],
)
def test_numeric_option_out_of_range(
    world: World, command: tuple[str, ...], option: str, extra: tuple[str, ...], value: str
) -> None:
    paths = (str(world.specs),) if command[0] in ("plan", "apply") else ()
    result = world.cli(*command, *extra, option, value, *paths)
    assert_refused(result, f"'{option}'", world=world)
    assert value in result.err or "range" in result.err or "not a valid integer" in result.err
    assert not (world.tmp / "ca-out").exists()


# ------------------------------------------------------------------------------------ --now extremes


@pytest.fixture(scope="module")
def issuer_ca() -> CertificateAuthority:
    return CertificateAuthority.create("bad-input-ca", now=datetime.now(UTC), key_type=KeyType.EC_P256)


def issuer_specs(world: World, ca: CertificateAuthority) -> Path:
    directory = world.tmp / "issuer-specs"
    write(directory / "ca.crt", ca.cert_pem())
    key = directory / "ca.key"
    key.write_text(ca.key_pem(), encoding="utf-8")
    key.chmod(0o600)
    write(
        directory / "spec.yaml",
        f"""
        instances:
          - id: {INSTANCE}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{ENDPOINT}]
              certificate: {{source: issuer, ca_cert: {{file: ca.crt}}, ca_key: {{file: ca.key}}}}
        """,
    )
    return directory


NOW_EXTREMES = [
    pytest.param(("apply", "--auto-approve"), "0001-01-01T00:00:00Z", id="apply-year-1"),
    pytest.param(("apply", "--auto-approve"), "9999-12-31T23:59:59Z", id="apply-year-9999"),
    pytest.param(("apply", "--auto-approve"), "1949-12-31T23:59:59Z", id="apply-before-1950"),
    pytest.param(("apply", "--auto-approve"), "9999-12-31T23:59:59-23:59", id="apply-beyond-9999-by-offset"),
    pytest.param(("apply", "--auto-approve"), "0001-01-01T00:00:00+23:59", id="apply-before-year-1-by-offset"),
    pytest.param(("plan",), "0001-01-01", id="plan-year-1"),
    pytest.param(("plan",), "9999-12-31", id="plan-year-9999"),
    pytest.param(("validate",), "9999-12-31T23:59:59Z", id="validate-year-9999"),
    pytest.param(("plan",), "nan", id="plan-nan"),
    pytest.param(("plan",), "", id="plan-empty"),
]


@pytest.mark.parametrize(("command", "value"), NOW_EXTREMES)
def test_now_that_makes_issuance_impossible(
    world: World, issuer_ca: CertificateAuthority, command: tuple[str, ...], value: str
) -> None:
    specs = issuer_specs(world, issuer_ca)
    result = world.cli(*command, "--now", value, str(specs))
    assert_refused(result, "--now: expected", repr(value), world=world)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_now_from_the_environment_is_checked_the_same_way(
    world: World, issuer_ca: CertificateAuthority, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RDSSSL_NOW", value)
    result = world.cli("apply", "--auto-approve", str(issuer_specs(world, issuer_ca)))
    assert_refused(result, "--now (from RDSSSL_NOW): expected a time from", world=world)


@pytest.mark.parametrize("now", [EARLIEST_NOW, LATEST_NOW], ids=["earliest", "latest"])
def test_the_now_bounds_still_allow_issuing_the_longest_certificate(now: datetime) -> None:
    ca = CertificateAuthority.create("bound-ca", now=now, days=MAX_VALIDITY_DAYS, key_type=KeyType.EC_P256)
    issued = ca.issue_server_certificate([ENDPOINT], now=now, days=MAX_VALIDITY_DAYS, key_type=KeyType.EC_P256)
    assert issued.certificate.not_valid_before_utc < now < issued.certificate.not_valid_after_utc


# ------------------------------------------------------------------------------------ --endpoint ""


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("plan", "--endpoint", ""), id="plan-empty"),
        pytest.param(("plan", "--endpoint", "   "), id="plan-blank"),
        pytest.param(("apply", "--auto-approve", "--endpoint", ""), id="apply-empty"),
    ],
)
def test_empty_endpoint_is_an_error(world: World, args: tuple[str, ...]) -> None:
    result = world.cli(*args, str(world.specs))
    assert_refused(result, "'--endpoint'", "expected an http(s) URL", world=world)


def test_an_empty_endpoint_variable_counts_as_unset(tmp_path: Path) -> None:
    target = resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ={"RDSSSL_ENDPOINT": " "})
    assert (target.kind, target.source) == ("alibaba-cloud", "default")


# ------------------------------------------------------------------------------------ spec discovery


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _broken(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.yaml")


def _loop(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(path.parent.parent)


DISCOVERY = [
    pytest.param("f.yaml", _fifo, ("f.yaml", "a FIFO", "not a regular file"), id="fifo-spec"),
    pytest.param("z.yaml", _dev_zero, ("z.yaml", "/dev/zero", "not a regular file"), id="symlink-to-dev-zero"),
    pytest.param("m.yaml", _broken, ("m.yaml", "a symbolic link to a missing file"), id="broken-symlink"),
    pytest.param("sub/loop", _loop, ("sub/loop", "already read"), id="directory-link-loop"),
]


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize(("name", "make", "where"), DISCOVERY)
def test_spec_discovery_never_skips_silently(
    world: World, command: str, name: str, make: Callable[[Path], None], where: tuple[str, ...]
) -> None:
    make(world.specs / name)
    result = world.cli(command, str(world.specs))
    assert_refused(result, *where, world=world)
    assert "Valid" not in result.out


def test_a_fifo_named_on_the_command_line_is_refused(world: World) -> None:
    os.mkfifo(world.tmp / "given.yaml")
    result = world.cli("validate", str(world.tmp / "given.yaml"))
    assert_refused(result, "given.yaml", "a FIFO", "not a regular file or directory", world=world)


def test_a_target_file_that_is_not_a_regular_file_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RDSSSL_ENDPOINT")
    os.mkfifo(world.specs / "_target.yaml")
    result = world.cli("plan", str(world.specs))
    assert_refused(result, "_target.yaml", "not a regular file", world=world)


# -- rows that need a user who cannot read what root can: a forked child that drops to uid/gid 65534


def test_an_unreadable_subdirectory_is_an_error() -> None:
    with shared_directory() as shared:
        specs = shared / "specs"
        write(specs / "spec.yaml", ALIYUN_SPEC)
        write(specs / "locked" / "hidden.yaml", ALIYUN_SPEC.replace(INSTANCE, "pgm-hidden"))
        (specs / "locked").chmod(0)
        result = run_unprivileged(["validate", "specs"], cwd=shared)
    assert_refused(result, "specs/locked", "cannot read the directory", "Permission denied")
    assert "Valid" not in result.out


# ------------------------------------------------------------------------------------ plan --out


def _a_directory(world: World) -> str:
    (world.tmp / "plans").mkdir()
    return str(world.tmp / "plans")


def _parent_is_a_file(world: World) -> str:
    (world.tmp / "plain-file").write_text("x", encoding="utf-8")
    return str(world.tmp / "plain-file" / "sub" / "plan.json")


def _a_device(world: World) -> str:
    return "/dev/null"


OUT_ROWS = [
    pytest.param(_a_directory, ("'--out'", "is a directory"), id="a-directory"),
    pytest.param(
        _parent_is_a_file, ("--out", "plain-file", "Not a directory"), id="missing-parent-that-cannot-be-made"
    ),
    pytest.param(_a_device, ("--out '/dev/null'", "not a regular file"), id="a-device"),
]


@pytest.mark.parametrize(("where", "message"), OUT_ROWS)
def test_plan_out_unwritable_is_refused_before_any_cloud_call(
    world: World, where: Callable[[World], str], message: tuple[str, ...]
) -> None:
    result = world.cli("plan", "--out", where(world), str(world.specs))
    assert_refused(result, *message, world=world)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # and the device was left alone


def test_plan_out_in_a_read_only_place_is_refused_before_any_cloud_call(world: World) -> None:
    with shared_directory() as shared:
        write(shared / "specs" / "spec.yaml", ALIYUN_SPEC)
        read_only = shared / "read-only"
        read_only.mkdir()
        read_only.chmod(0o555)
        result = run_unprivileged(["plan", "--out", "read-only/plan.json", "specs"], cwd=shared)
        assert_refused(result, "--out 'read-only/plan.json'", "cannot write in", "Permission denied", world=world)
        assert list(read_only.iterdir()) == []


# ------------------------------------------------------------------------------------ keys without armour


def _body(pem: bytes) -> str:
    return "".join(line for line in pem.decode("ascii").splitlines() if not line.startswith("-----"))


def _key_body(kind: str) -> str:
    pkcs8, traditional = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    encoding = serialization.Encoding.PEM
    key: Any
    if kind.startswith("rsa"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif kind.startswith("ec"):
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    if kind.endswith("encrypted"):
        return _body(key.private_bytes(encoding, pkcs8, serialization.BestAvailableEncryption(b"secret")))
    return _body(key.private_bytes(encoding, traditional if kind.endswith("1") else pkcs8, none))


def _fragments(body: str) -> list[str]:
    return [body[i : i + 24] for i in range(0, len(body) - 24, 24)]


def _quoted(body: str) -> str:
    return json.dumps(f"pasted by mistake: {body}")


KEY_ROWS = [
    pytest.param("rsa-pkcs8", "description", _quoted, 3, id="description-rsa-pkcs8"),
    pytest.param("rsa-pkcs1", "description", _quoted, 3, id="description-rsa-pkcs1"),
    pytest.param("ec-sec1", "description", _quoted, 3, id="description-ec-sec1"),
    pytest.param("ec-pkcs8", "description", _quoted, 3, id="description-ec-pkcs8"),
    pytest.param("ed25519-pkcs8", "description", _quoted, 3, id="description-ed25519-pkcs8"),
    pytest.param("rsa-pkcs8-encrypted", "description", _quoted, 3, id="description-encrypted-pkcs8"),
    pytest.param(
        "ec-sec1",
        "description",
        lambda body: "|\n" + "".join(f"      {body[i : i + 64]}\n" for i in range(0, len(body), 64)),
        3,
        id="description-multi-line-block",
    ),
]


@pytest.mark.parametrize("command", ["validate", "plan"])
@pytest.mark.parametrize(("kind", "field", "render", "line"), KEY_ROWS)
def test_a_key_body_without_pem_armour_is_refused_and_never_echoed(
    world: World, command: str, kind: str, field: str, render: Callable[[str], str], line: int
) -> None:
    body = _key_body(kind)
    spec = ALIYUN_SPEC.rstrip("\n").replace("    region:", f"    {field}: {render(body)}\n    region:", 1)
    write(world.specs / "spec.yaml", spec.replace("\n\n", "\n"))
    result = world.cli(command, str(world.specs))
    assert_refused(result, f"spec.yaml:{line}: instances[0].{field}: holds a private key", world=world)
    for fragment in _fragments(body):
        assert fragment not in result.text, "a slice of the key's body was echoed"


def test_a_certificate_body_without_armour_is_not_mistaken_for_a_key(world: World) -> None:
    ca = CertificateAuthority.create("not-a-key", now=datetime.now(UTC), key_type=KeyType.EC_P256)
    spec = ALIYUN_SPEC.replace("    region:", f"    description: {_quoted(_body(ca.cert_pem().encode()))}\n    region:")
    write(world.specs / "spec.yaml", spec)
    result = world.cli("validate", str(world.specs))
    assert result.code == 0, result.text


# ------------------------------------------------------------------------------------ emulator state


def _saved_state(directory: Path) -> tuple[Path, dict[str, Any]]:
    state = directory / "emulator.json"
    with run_emulator({"instances": [{"id": INSTANCE, "region": "cn-hangzhou"}]}, state_file=state):
        pass
    return state, json.loads(state.read_text(encoding="utf-8"))


def _nan_offset(data: dict[str, Any]) -> str:
    data["clock_offset_seconds"] = float("nan")
    return json.dumps(data)


def _truncated(data: dict[str, Any]) -> str:
    return json.dumps(data)[:200]


def _deep(data: dict[str, Any]) -> str:
    return "[" * 100_000 + "]" * 100_000


def _ca_null(data: dict[str, Any]) -> str:
    data["ca"] = None
    return json.dumps(data)


def _bad_date(data: dict[str, Any]) -> str:
    data["modifications"] = [{"instance_id": INSTANCE, "request_id": "r", "accepted_at": "yesterday"}]
    return json.dumps(data)


def _entry_not_mapping(data: dict[str, Any]) -> str:
    data["instances"] = [{"entry": "x", "pending": None}]
    return json.dumps(data)


STATE_ROWS = [
    pytest.param(_nan_offset, ("clock_offset_seconds", "expected a finite number", "NaN"), id="nan-offset"),
    pytest.param(_truncated, ("not valid JSON",), id="truncated"),
    pytest.param(_deep, ("nested too deeply",), id="deeply-nested"),
    pytest.param(_ca_null, ("ca: expected {cert: PEM, key: PEM}",), id="ca-null"),
    pytest.param(_bad_date, ("modifications[0].accepted_at: expected an ISO 8601 time",), id="bad-date"),
    pytest.param(_entry_not_mapping, ("instances[0]: expected a mapping",), id="entry-not-a-mapping"),
]


@pytest.mark.parametrize(("damage", "where"), STATE_ROWS)
def test_a_damaged_emulator_state_is_a_located_error(
    tmp_path: Path, damage: Callable[[dict[str, Any]], str], where: tuple[str, ...]
) -> None:
    state, data = _saved_state(tmp_path)
    state.write_text(damage(data), encoding="utf-8")
    result = _run_captured(["emulator", "serve", "--port", "0", "--state", str(state)])
    assert_refused(result, str(state), *where)
    assert "PRIVATE KEY" not in result.text


def test_a_nan_offset_in_the_embedded_emulator_state_is_a_located_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RDSSSL_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    specs = tmp_path / "specs"
    write(specs / "spec.yaml", ALIYUN_SPEC)
    write(specs / "_fleet.yaml", f"instances: [{{id: {INSTANCE}, region: cn-hangzhou}}]\n")
    state, data = _saved_state(specs / ".state")
    state.write_text(_nan_offset(data), encoding="utf-8")
    write(
        specs / "_target.yaml",
        "target: embedded-emulator\nemulator: {fleet: _fleet.yaml, state: .state/emulator.json}\n",
    )
    result = _run_captured(["plan", str(specs)])
    assert_refused(result, "clock_offset_seconds", "expected a finite number")


def test_a_fifo_fleet_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    os.mkfifo(fleet)
    result = _run_captured(["emulator", "serve", "--port", "0", "--fleet", str(fleet)])
    assert_refused(result, str(fleet), "cannot read the file", "not a regular file")

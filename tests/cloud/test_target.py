"""Target resolution: the documented precedence, and a located error for every bad _target.yaml."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.cloud.target import check_target_file, resolve_target
from rdsssl_reconcile.emulator.fleet import FleetError
from rdsssl_reconcile.errors import TargetError

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def write_target(directory: Path, text: str) -> Path:
    path = directory / "_target.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_option_then_environment_then_file_then_cloud(tmp_path: Path) -> None:
    write_target(tmp_path, "target: http://127.0.0.1:9001\n")
    env = {"RDSSSL_ENDPOINT": "http://127.0.0.1:9002/"}
    by_option = resolve_target(endpoint_option="http://127.0.0.1:9003", spec_paths=[tmp_path], environ=env)
    assert (by_option.endpoint, by_option.source) == ("http://127.0.0.1:9003", "--endpoint")
    by_env = resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ=env)
    assert (by_env.endpoint, by_env.source) == ("http://127.0.0.1:9002", "RDSSSL_ENDPOINT")
    by_file = resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ={})
    assert (by_file.endpoint, by_file.source) == ("http://127.0.0.1:9001", str(tmp_path / "_target.yaml"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    default = resolve_target(endpoint_option=None, spec_paths=[elsewhere], environ={})
    assert (default.kind, default.endpoint) == ("alibaba-cloud", None)
    assert default.describe() == "Alibaba Cloud (regional RDS endpoints)"


def test_embedded_emulator_paths_resolve_from_the_file(tmp_path: Path) -> None:
    write_target(
        tmp_path,
        "target: embedded-emulator\nemulator: {fleet: fleet.yaml, state: .state/e.json, restart_seconds: 0.5}\n",
    )
    target = resolve_target(endpoint_option=None, spec_paths=[tmp_path / "a.yaml"], environ={})
    assert target.kind == "embedded-emulator"
    assert target.embedded is not None
    assert target.embedded.fleet == (tmp_path / "fleet.yaml").resolve()
    assert target.embedded.state == (tmp_path / ".state" / "e.json").resolve()
    assert target.embedded.restart_seconds == 0.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("target: [1\n", ":2: not valid YAML"),
        ("- target\n", ": expected a mapping with 'target:'"),
        ("target: alibaba-cloud\ntargt: x\n", ":2: unknown key(s) targt; expected 'target' and 'emulator'"),
        ("target: 5\n", ":1: target: expected 'embedded-emulator', 'alibaba-cloud' or an http(s) URL, got 5"),
        ("target: http://h/x\n", ":1: the endpoint URL must not have a path or query"),
        ("target: embedded-emulator\n", ":1: emulator.fleet is required"),
        (
            "target: embedded-emulator\nemulator:\n  fleet: f.yaml\n  flet: g.yaml\n",
            ":4: emulator: unknown key(s) flet; expected fleet, state, restart_seconds",
        ),
        (
            "target: embedded-emulator\nemulator:\n  fleet: f.yaml\n  restart_seconds: -1\n",
            ":4: emulator.restart_seconds: expected a number from 0 to 604800 (a week), got -1",
        ),
        (
            "target: embedded-emulator\nemulator:\n  fleet: f.yaml\n  restart_seconds: 1.0e+300\n",
            ":4: emulator.restart_seconds: expected a number from 0 to 604800 (a week), got 1e+300",
        ),
    ],
)
def test_bad_target_file_is_a_located_error(tmp_path: Path, text: str, expected: str) -> None:
    path = write_target(tmp_path, text)
    with pytest.raises(TargetError) as info:
        resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ={})
    assert str(info.value).startswith(f"{path}{expected}"), str(info.value)
    # validate's offline check refuses it in the same words, even with RDSSSL_ENDPOINT set for today.
    with pytest.raises(TargetError) as checked:
        check_target_file([tmp_path], now=NOW)
    assert str(checked.value) == str(info.value)


def test_unreadable_target_file_and_odd_values_are_located_errors(tmp_path: Path) -> None:
    path = tmp_path / "_target.yaml"
    path.write_bytes(b"target: \xff\xfe\n")
    with pytest.raises(TargetError, match="cannot read the file: not a UTF-8 text file"):
        resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ={})
    write_target(tmp_path, "target: embedded-emulator\nemulator: {fleet: f.yaml, restart_seconds: .nan}\n")
    with pytest.raises(TargetError, match="expected a number from 0 to 604800"):
        resolve_target(endpoint_option=None, spec_paths=[tmp_path], environ={})
    with pytest.raises(TargetError, match="expected an http"):
        resolve_target(endpoint_option="http://[::1", spec_paths=[tmp_path], environ={})
    with pytest.raises(TargetError, match="expected an http"):
        resolve_target(endpoint_option="http://127.0.0.1:port", spec_paths=[tmp_path], environ={})


def test_the_offline_check_loads_the_embedded_fleet_as_plan_would(tmp_path: Path) -> None:
    write_target(tmp_path, "target: embedded-emulator\nemulator: {fleet: fleet.yaml}\n")
    with pytest.raises(FleetError, match="cannot read the file: No such file or directory"):
        check_target_file([tmp_path], now=NOW)
    (tmp_path / "fleet.yaml").write_text("instances:\n  - id: pgm-a\n    regoin: cn-hangzhou\n")
    with pytest.raises(FleetError, match=r"line 3: instances\[0\]\.regoin: unknown key \(did you mean 'region'\?\)"):
        check_target_file([tmp_path], now=NOW)
    (tmp_path / "fleet.yaml").write_text("instances:\n  - id: pgm-a\n    region: cn-hangzhou\n")
    target = check_target_file([tmp_path / "a.yaml"], now=NOW)
    assert target is not None
    assert target.kind == "embedded-emulator"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_target.yaml", "fleet.yaml"]  # nothing written


def test_no_target_file_is_nothing_to_check(tmp_path: Path) -> None:
    assert check_target_file([tmp_path], now=NOW) is None

"""``validate`` refuses a ``_target.yaml`` that ``plan`` would refuse, in the same words (issue 10).

The check itself is :func:`rdsssl_reconcile.cloud.target.check_target_file` (tested in
tests/cloud/test_target.py); this drives the command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import run_cli

SPEC = """\
instances:
  - id: pgm-a
    region: cn-hangzhou
    ssl: {enabled: false}
"""


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("target: alibaba-cloud\ntargt: x\n", "_target.yaml:2: unknown key(s) targt"),
        ("target: embedded-emulator\nemulator: {fleet: missing.yaml}\n", "cannot read the file"),
    ],
)
def test_validate_refuses_the_target_file_plan_refuses(tmp_path: Path, target: str, expected: str) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text(SPEC)
    (specs / "_target.yaml").write_text(target)
    result = run_cli("validate", specs)
    assert result.code == 1, result.out + result.err
    assert expected in result.err


def test_validate_accepts_a_good_target_file(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text(SPEC)
    (specs / "_target.yaml").write_text("target: embedded-emulator\nemulator: {fleet: _fleet.yaml}\n")
    (specs / "_fleet.yaml").write_text("instances:\n  - id: pgm-a\n    region: cn-hangzhou\n")
    result = run_cli("validate", specs)
    assert result.code == 0, result.out + result.err

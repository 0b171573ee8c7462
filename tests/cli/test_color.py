"""Colour: NO_COLOR, FORCE_COLOR, --color and --no-color, for every command, at a terminal or not (issue 10)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from rdsssl_reconcile.cli.color import color_from_environment

ESC = "\x1b["
SPEC = "instances:\n  - {id: pgm-a, region: cn-hangzhou, ssl: {enabled: false}}\n"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"NO_COLOR": "1"}, False),
        ({"NO_COLOR": ""}, None),
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "0"}, None),
        ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
    ],
)
def test_the_environment_decides_when_no_option_does(environ: dict[str, str], expected: bool | None) -> None:
    assert color_from_environment(environ) is expected


def _run(args: list[str], cwd: Path, *, env: dict[str, str], terminal: bool) -> str:
    """The command's stdout, written to a pseudo-terminal when ``terminal`` (so isatty() is true)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")} | env
    command = [sys.executable, "-m", "rdsssl_reconcile", *args]
    if not terminal:
        return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, check=False).stdout
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=follower, stderr=subprocess.DEVNULL)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        process.wait(timeout=60)
    finally:
        os.close(leader)
    return b"".join(chunks).decode()


@pytest.mark.parametrize(
    ("env", "options", "terminal", "coloured"),
    [
        ({}, [], True, True),
        ({"NO_COLOR": "1"}, [], True, False),
        ({}, ["--no-color"], True, False),
        ({}, ["--color", "never"], True, False),
        ({}, [], False, False),
        ({}, ["--color", "always"], False, True),
        ({"FORCE_COLOR": "1"}, [], False, True),
        ({"NO_COLOR": "1"}, ["--color", "always"], False, True),
        ({}, ["--color", "always", "--no-color"], False, False),
        ({}, ["--no-color", "--color", "always"], False, False),
    ],
    ids=[
        "terminal",
        "terminal-NO_COLOR",
        "terminal-no-color",
        "terminal-never",
        "pipe",
        "pipe-always",
        "pipe-FORCE_COLOR",
        "always-beats-NO_COLOR",
        "no-color-beats-always",
        "no-color-first-beats-always",
    ],
)
def test_colour_follows_the_rule(
    tmp_path: Path, env: dict[str, str], options: list[str], terminal: bool, coloured: bool
) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(SPEC)
    out = _run(["validate", *options], tmp_path, env=env, terminal=terminal)
    assert "Valid: 1 instance(s)" in out, out
    assert (ESC in out) is coloured, repr(out)


def test_subcommands_of_groups_take_the_options_too(tmp_path: Path) -> None:
    out = _run(["certs", "ca", "create", "--help"], tmp_path, env={}, terminal=False)
    assert "--no-color" in out, out
    assert "--color [auto|always|never]" in out, out

"""drift's options are refused before any read, with the option named; the renderer table is extensible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdsssl_reconcile.cli import run
from rdsssl_reconcile.cli.drift_cmd import STDOUT_FORMATS, parse_reports, renderers
from rdsssl_reconcile.errors import UserError


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("json", "expected FORMAT=PATH"),
        ("json=", "expected FORMAT=PATH"),
        ("yaml=x.yaml", "unknown format 'yaml'; expected one of text, json, markdown"),
    ],
)
def test_bad_report_options_are_refused(value: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse_reports((value,), list(renderers(max_bytes=65536)))


def test_a_report_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a directory"):
        parse_reports((f"json={tmp_path}",), ["json"])
    assert parse_reports(("json=a/b.json", "text=c.txt"), ["json", "text"]) == [
        ("json", Path("a/b.json")),
        ("text", Path("c.txt")),
    ]


def test_every_stdout_format_has_a_renderer() -> None:
    assert set(STDOUT_FORMATS) <= set(renderers(max_bytes=65536))


def test_a_bad_option_is_a_json_error_document_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["drift", str(tmp_path), "--format", "json", "--report", "nope=x"])
    out = capsys.readouterr()
    assert code == 1
    document = json.loads(out.out)
    assert document["command"] == "drift"
    assert "unknown format 'nope'" in document["error"]["message"]
    assert "Error: --report 'nope=x'" in out.err


def test_drift_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    assert "drift" in capsys.readouterr().out
    assert run(["drift", "--help"]) == 0
    shown = capsys.readouterr().out
    for option in (
        "--report FORMAT=PATH",
        "--scan-region REGION",
        "--baseline-plan",
        "--target ID",
        "--now",
        "--no-color",
    ):
        assert option in shown

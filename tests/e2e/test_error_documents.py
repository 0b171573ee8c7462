"""Machine formats stay machine-readable on errors: a document on stdout, exit 1 (issue 10, acceptance 6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import CliResult, write_spec

pytestmark = pytest.mark.e2e
Cli = Callable[..., CliResult]

BAD_SPEC = """\
instances:
  - id: pgm-a
    regoin: cn-hangzhou
    description: "forged\\n> [!NOTE]\\x1b[2A"
    ssl: {enabled: false}
"""


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_bad_specs_give_a_json_error_document_on_stdout(cli: Cli, spec_dir: Path, command: str) -> None:
    write_spec(spec_dir, BAD_SPEC)
    result = cli(command, str(spec_dir), "--format", "json")
    assert result.code == 1, result.text
    document = json.loads(result.out)  # the whole of stdout is the document
    assert document["format_version"] == "1.0"
    assert document["command"] == command
    assert document["valid"] is False
    assert document["error"]["kind"] == "spec"
    problems = document["error"]["problems"]
    assert any("unknown key 'regoin' (did you mean 'region'?)" in p for p in problems), problems
    assert any("missing required key 'region'" in p for p in problems), problems
    assert "Error: " in result.err  # the human message stays on stderr


def test_bad_specs_give_a_markdown_error_block_a_comment_can_carry(cli: Cli, spec_dir: Path) -> None:
    write_spec(spec_dir, BAD_SPEC)
    result = cli("plan", str(spec_dir), "--format", "markdown")
    assert result.code == 1, result.text
    assert result.out.startswith("### rdsssl-reconcile plan\n\n> [!CAUTION]\n")
    tokens = MarkdownIt("commonmark").parse(result.out)
    items = [t for t in tokens if t.type == "list_item_open"]
    assert len(items) == 2, result.out
    assert "did you mean 'region'" in result.out
    # One blockquote only: nothing in a problem can forge another banner, and no raw ESC reaches it.
    assert sum(1 for t in tokens if t.type == "blockquote_open") == 1
    assert "\x1b" not in result.out


def test_an_unwritable_out_is_a_json_error_document_before_any_call(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    write_spec(spec_dir, "instances: []\n")
    (spec_dir / "not-a-dir").write_text("a file where a directory should be\n")
    result = cli("plan", str(spec_dir), "--format", "json", "--out", str(spec_dir / "not-a-dir" / "plan.json"))
    assert result.code == 1, result.text
    document = json.loads(result.out)
    assert document["valid"] is False
    assert "--out" in document["error"]["message"]
    assert cloud_env.admin.calls() == []


def test_a_valid_spec_still_gives_the_normal_documents(cli: Cli, spec_dir: Path) -> None:
    write_spec(spec_dir, "instances:\n  - {id: pgm-a, region: cn-hangzhou, ssl: {enabled: false}}\n")
    result = cli("validate", str(spec_dir), "--format", "json")
    assert result.code == 0, result.text
    assert json.loads(result.out)["valid"] is True

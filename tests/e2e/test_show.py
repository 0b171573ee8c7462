"""Saved-plan review (issue 10, acceptance 4): ``plan --out F``, ``show F`` and ``apply F`` from elsewhere.

The plan is made from the repository root with the relative spec path ``specs`` (what CI does); ``show``
and ``apply`` then run from another directory. ``show`` prints exactly what ``plan`` printed, in each
format, without a cloud call; ``apply`` reads the specs where the plan was made, and a stale or an
already-applied plan is said in plain words.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.planfile import SAVED_ONLY_KEYS
from tests.e2e.conftest import CliResult, aliyun_spec, endpoint_of, instance_entry, write_spec

pytestmark = pytest.mark.e2e
FAST = ("--poll-interval", "0.05", "--max-restarts", "2")

Cli = Callable[..., CliResult]


def modifies(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return emulator.admin.calls(action="ModifyDBInstanceSSL")


def error_lines(result: CliResult) -> list[str]:
    """The error and its items, after the line that says where the specs were read from."""
    lines = result.err.splitlines()
    # A progress line: "<UTC timestamp> Reading the specs from ...".
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Reading the specs from ", lines[0]), lines
    return lines[1:]


@pytest.fixture
def repo(cloud_env: RunningEmulator, tmp_path: Path) -> Path:
    """A repository root with specs/: pgm-a to get SSL (a restart), pgm-b declared off and in sync."""
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b")])
    root = tmp_path / "repo"
    write_spec(
        root / "specs",
        aliyun_spec("pgm-a") + "  - id: pgm-b\n    region: cn-hangzhou\n    ssl: {enabled: false}\n",
    )
    return root


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    return directory


def test_show_prints_exactly_what_plan_printed_in_every_format_from_another_directory(
    cli: Cli, cloud_env: RunningEmulator, repo: Path, elsewhere: Path
) -> None:
    for output_format in ("text", "json", "markdown"):
        plan_file = repo / f"reviewed-{output_format}.plan"
        planned = cli("plan", "--format", output_format, "--out", plan_file.name, cwd=repo)
        assert planned.code == 0, planned.text
        cloud_env.admin.clear_calls()
        shown = cli("show", str(plan_file), "--format", output_format, cwd=elsewhere)
        assert shown.code == 0, shown.text
        assert shown.out == planned.out, output_format
        assert shown.err == ""
        assert cloud_env.admin.calls() == []  # no cloud call
    document = json.loads((repo / "reviewed-json.plan").read_text(encoding="utf-8"))
    shown_json = json.loads(cli("show", str(repo / "reviewed-json.plan"), "--format", "json").out)
    # The JSON plan is the file without what only a saved plan holds.
    assert shown_json == {k: v for k, v in document.items() if k not in SAVED_ONLY_KEYS}
    assert set(document) - set(shown_json) == {"kind", "desired", "origin"}
    text = cli("show", str(repo / "reviewed-text.plan"), cwd=elsewhere).out
    assert "~ pgm-a (cn-hangzhou) will be changed: RESTART required" in text
    assert "= pgm-b (cn-hangzhou): in sync - SSL is off, as declared" in text
    assert "from specs" in text
    markdown = cli("show", str(repo / "reviewed-markdown.plan"), "--format", "markdown", cwd=elsewhere).out
    assert markdown.startswith("### rdsssl-reconcile plan\n\n> [!WARNING]\n")


def test_show_needs_no_cloud_no_credentials_and_no_sdk(cli: Cli, repo: Path, elsewhere: Path, tmp_path: Path) -> None:
    plan_file = repo / "reviewed.plan"
    assert cli("plan", "--out", plan_file.name, cwd=repo).code == 0
    probe = (
        "import sys\n"
        "from rdsssl_reconcile.cli import run\n"
        f"code = run(['show', {str(plan_file)!r}, '--format', 'markdown'])\n"
        "sdk = sorted(m for m in sys.modules if m.startswith(('alibabacloud', 'darabonba', 'Tea')))\n"
        "print('CODE', code, 'SDK', sdk)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RDSSSL_ENDPOINT": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("CODE 0 SDK []"), done.stdout + done.stderr
    assert "pgm-a" in done.stdout


def test_apply_from_another_directory_then_again_is_recognised_as_applied(
    cli: Cli, cloud_env: RunningEmulator, repo: Path, elsewhere: Path
) -> None:
    plan_file = repo / "out" / "reviewed.plan"
    assert cli("plan", "--out", "out/reviewed.plan", cwd=repo).code == 0
    cloud_env.admin.clear_calls()
    audit = elsewhere / "audit.jsonl"
    applied = cli("apply", str(plan_file), *FAST, "--audit-log", "audit.jsonl", cwd=elsewhere)
    assert applied.code == 0, applied.text
    assert f"Reading the specs from {repo} (the directory the plan was made in)." in applied.err
    assert [c["instance_id"] for c in modifies(cloud_env) if c["outcome"] == "ok"] == ["pgm-a"]
    assert audit.is_file()  # --audit-log is relative to where the user is, not to the specs
    cloud_env.admin.clear_calls()
    again = cli("apply", str(plan_file), *FAST, "--audit-log", "audit.jsonl", cwd=elsewhere)
    assert again.code == 0, again.text
    assert again.out == "This plan has already been applied (pgm-a is now in sync); nothing to do.\n"
    assert "stale" not in again.text
    assert modifies(cloud_env) == []
    as_json = cli("apply", str(plan_file), "--format", "json", "--audit-log", "audit.jsonl", cwd=elsewhere)
    assert as_json.code == 0, as_json.text
    assert json.loads(as_json.out)["instances"] == []
    assert "already been applied" in as_json.err


def test_a_stale_plan_is_refused_in_plain_words(
    cli: Cli, cloud_env: RunningEmulator, repo: Path, elsewhere: Path
) -> None:
    plan_file = repo / "reviewed.plan"
    assert cli("plan", "--out", plan_file.name, cwd=repo).code == 0
    # Behind the tool's back: SSL is turned on for pgm-b, declared off (the plan said: in sync).
    cloud_env.admin.set_instance("pgm-b", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-b")})
    cloud_env.admin.clear_calls()
    refused = cli("apply", str(plan_file), *FAST, cwd=elsewhere)
    assert refused.code == 1, refused.text
    lines = error_lines(refused)
    assert lines[0] == "Error: the saved plan is stale; nothing was changed. Re-run 'plan' and review it again:"
    assert "  - pgm-b: the plan was made when ssl.enabled was false; the instance now says true" in lines
    assert "  - pgm-b: the plan was made when ssl.ca_type was (none); the instance now says aliyun" in lines
    assert (
        "  - pgm-b: the plan was made when ssl.endpoints was (an empty list); "
        "the instance now says pgm-b.pg.rds.aliyuncs.com"
    ) in lines
    assert any(
        line.startswith(
            "  - pgm-b: the plan was made when ssl.server_cert was (none); the instance now says the certificate "
            "CN=pgm-b.pg.rds.aliyuncs.com (issuer CN="
        )
        for line in lines
    ), lines
    assert any(line.startswith("  - pgm-b: so its plan now differs in status, ") for line in lines), lines
    assert lines[-1] == "  - so the summary now differs in change, in_sync, restarts, estimated_restart_seconds"
    assert not any("live." in line or "{'" in line or "None" in line for line in lines), lines
    assert modifies(cloud_env) == []


def test_a_plan_applied_in_part_is_refused_naming_what_was_applied(
    cli: Cli, cloud_env: RunningEmulator, repo: Path, elsewhere: Path
) -> None:
    write_spec(repo / "specs", aliyun_spec("pgm-a", "pgm-b"))
    plan_file = repo / "reviewed.plan"
    assert cli("plan", "--out", plan_file.name, cwd=repo).code == 0
    # Someone applies pgm-a only (an interrupted run, a colleague): pgm-b is still pending, as planned.
    assert cli("apply", "--target", "pgm-a", "--auto-approve", *FAST, cwd=repo).code == 0
    cloud_env.admin.clear_calls()
    refused = cli("apply", str(plan_file), *FAST, cwd=elsewhere)
    assert refused.code == 1, refused.text
    assert error_lines(refused)[1:] == [
        "  - pgm-a: this part of the plan has already been applied (pgm-a is now in sync); nothing to do for it"
    ]
    assert modifies(cloud_env) == []
    # With --target pgm-a, the applied part is all of the plan there is: nothing to do.
    only_a = cli("apply", str(plan_file), "--target", "pgm-a", *FAST, cwd=elsewhere)
    assert only_a.code == 0, only_a.text
    assert "already been applied (pgm-a is now in sync)" in only_a.out
    # The untouched part is what was reviewed for pgm-b: it still applies alone.
    cloud_env.admin.clear_calls()
    only_b = cli("apply", str(plan_file), "--target", "pgm-b", *FAST, cwd=elsewhere)
    assert only_b.code == 0, only_b.text
    assert [c["instance_id"] for c in modifies(cloud_env) if c["outcome"] == "ok"] == ["pgm-b"]


def test_missing_specs_are_named_with_the_fix(
    cli: Cli, cloud_env: RunningEmulator, repo: Path, elsewhere: Path, tmp_path: Path
) -> None:
    assert cli("plan", "--out", "reviewed.plan", cwd=repo).code == 0
    shutil.copy(repo / "reviewed.plan", elsewhere / "reviewed.plan")
    moved = tmp_path / "moved"
    repo.rename(moved)
    cloud_env.admin.clear_calls()
    missing = cli("apply", "reviewed.plan", *FAST, cwd=elsewhere)
    assert missing.code == 1, missing.text
    assert missing.err.startswith(
        "Error: reviewed.plan: cannot find the specs this plan was made from (spec paths: specs; made in "
        f"{repo}), so it cannot be checked or applied; nothing was changed. Looked for:\n"
        f"  - {repo / 'specs'} (the directory the plan was made in): no such file or directory\n"
    ), missing.err
    assert "Run apply from the directory the plan was made in (the repository root, where specs is)" in missing.err
    assert cloud_env.admin.calls() == []
    # The same plan, run from the moved repository's root (a checkout elsewhere): found and applied.
    found = cli("apply", str(elsewhere / "reviewed.plan"), *FAST, cwd=moved)
    assert found.code == 0, found.text
    assert "Reading the specs" not in found.err
    # ... and so is the copy that kept its place in the moved tree, from anywhere.
    assert cli("apply", str(moved / "reviewed.plan"), *FAST, cwd=elsewhere).code == 0


def test_a_missing_plan_file_is_named_as_such(cli: Cli, elsewhere: Path) -> None:
    result = cli("apply", "reviewd.plan", cwd=elsewhere)
    assert (result.code, result.err) == (1, "Error: reviewd.plan: no such plan file\n")
    shown = cli("show", "reviewd.plan", cwd=elsewhere)
    assert (shown.code, shown.err) == (1, "Error: reviewd.plan: no such plan file\n")


def test_show_refuses_a_malformed_or_edited_file_with_a_located_error(cli: Cli, repo: Path, elsewhere: Path) -> None:
    plan_file = repo / "reviewed.plan"
    assert cli("plan", "--out", plan_file.name, cwd=repo).code == 0
    document = json.loads(plan_file.read_text(encoding="utf-8"))
    document["summary"]["restarts"] = 0  # "no restarts" in the comment, one in the plan
    edited = elsewhere / "edited.plan"
    edited.write_text(json.dumps(document), encoding="utf-8")
    result = cli("show", str(edited), "--format", "markdown", cwd=elsewhere)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"Error: {edited}: cannot be shown exactly as saved"), result.err
    assert "  - summary.restarts: the file says 0; the plan it describes says 1\n" in result.err
    broken = elsewhere / "broken.plan"
    broken.write_text('{"kind": ', encoding="utf-8")
    result = cli("show", str(broken), cwd=elsewhere)
    assert (result.code, result.out) == (1, "")
    assert result.err == f"Error: {broken}: line 1, column 10: not valid JSON (Expecting value)\n"
    assert "Traceback" not in result.err


def test_show_markdown_keeps_the_comment_budget_and_points_at_the_file(cli: Cli, repo: Path, elsewhere: Path) -> None:
    plan_file = repo / "reviewed.plan"
    assert cli("plan", "--out", plan_file.name, cwd=repo).code == 0
    full = cli("show", str(plan_file), "--format", "markdown", cwd=elsewhere).out
    assert "<details>" in full
    cut = cli("show", str(plan_file), "--format", "markdown", "--max-bytes", "1024", cwd=elsewhere)
    assert cut.code == 0, cut.text
    assert "<details>" not in cut.out  # details go first
    assert f"`rdsssl-reconcile show {plan_file}`" in cut.out  # and the comment says where the rest is
    assert cut.out.startswith("### rdsssl-reconcile plan\n\n> [!WARNING]\n")  # never the banners

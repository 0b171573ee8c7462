"""``plan --format json`` is written instance by instance: the text must be exactly the one-piece encoding."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rdsssl_reconcile import __version__
from rdsssl_reconcile.cli import runner
from rdsssl_reconcile.planfile import read_plan, saved_plan_chunks, saved_plan_document, write_plan
from rdsssl_reconcile.planning.model import Plan, plan_to_json
from rdsssl_reconcile.render.plan_json import instance_text, plan_json_chunks
from tests.planning.harness import CASES, run_case

CASE_FILES = sorted(CASES.glob("*.yaml"))


def reference(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan, tool_version=__version__), indent=2) + "\n"


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_pieces_join_to_the_one_piece_document(case_file: Path, tmp_path: Path) -> None:
    plan = run_case(case_file, tmp_path).plan
    rendered = {i.id: instance_text(i) for i in plan.instances[::2]}  # some rendered ahead, some not
    assert "".join(plan_json_chunks(plan, tool_version=__version__, rendered=rendered)) == reference(plan)
    assert "".join(plan_json_chunks(plan, tool_version=__version__)) == reference(plan)


def test_an_empty_plan_and_odd_text_are_written_exactly(tmp_path: Path) -> None:
    plan = run_case(CASE_FILES[0], tmp_path).plan
    empty = replace(plan, instances=())
    assert "".join(plan_json_chunks(empty, tool_version=__version__)) == reference(empty)
    odd = replace(
        plan,
        instances=tuple(replace(i, description='line\nbreak "quoted" \u202e\x1b[31m ü') for i in plan.instances),
    )
    assert "".join(plan_json_chunks(odd, tool_version=__version__)) == reference(odd)
    assert json.loads("".join(plan_json_chunks(odd, tool_version=__version__)))["instances"]


def test_echo_plan_prints_the_reference_text_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = run_case(CASE_FILES[0], tmp_path).plan
    monkeypatch.setattr(runner, "_JSON_BATCH", 64)
    runner.echo_plan(plan, "json", instance_json={i.id: instance_text(i) for i in plan.instances})
    assert capsys.readouterr().out == reference(plan) == runner.render_plan(plan, "json")


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_a_saved_plan_in_pieces_is_the_one_piece_document(case_file: Path, tmp_path: Path) -> None:
    run = run_case(case_file, tmp_path)
    origin = {"directory": "/work/specs", "from_plan_file": "..", "selection": {"regions": ["cn-hangzhou"]}}
    whole = json.dumps(saved_plan_document(run.plan, run.desired, origin=origin), indent=2) + "\n"
    rendered = {i.id: instance_text(i) for i in run.plan.instances[1::2]}
    assert "".join(saved_plan_chunks(run.plan, run.desired, origin=origin, rendered=rendered)) == whole
    empty = replace(run.plan, instances=())
    assert "".join(saved_plan_chunks(empty, (), origin={})) == (
        json.dumps(saved_plan_document(empty, (), origin={}), indent=2) + "\n"
    )


def test_write_plan_writes_the_pieces_and_read_plan_reads_them_back(tmp_path: Path) -> None:
    run = run_case(CASE_FILES[0], tmp_path)
    target = {"kind": "emulator", "endpoint": "http://127.0.0.1:9", "source": "--endpoint", "description": "test"}
    plan = replace(run.plan, target=target)
    path = tmp_path / "plans" / "plan.json"
    write_plan(path, plan, run.desired, rendered={i.id: instance_text(i) for i in plan.instances})
    document = read_plan(path)
    assert document["instances"] == [i.to_json() for i in plan.instances]
    assert set(document["desired"]) == {d.id for d in run.desired}

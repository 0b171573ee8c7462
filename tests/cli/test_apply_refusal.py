"""apply PLANFILE rebuilds the saved plan at both ends of its second, the second end only when needed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from rdsssl_reconcile.cli.apply_cmd import _refusal
from rdsssl_reconcile.planfile import saved_plan_document
from tests.planning.harness import CASES, run_case


def _documents(tmp_path: Path) -> tuple[dict[str, Any], Any]:
    run = run_case(sorted(CASES.glob("*.yaml"))[0], tmp_path)
    saved = json.loads(json.dumps(saved_plan_document(run.plan, run.desired, origin={"directory": "/x"})))
    return saved, run.plan


def _builders(*documents: dict[str, Any]) -> tuple[list[Any], list[int]]:
    made: list[int] = []

    def builder(index: int, document: dict[str, Any]) -> Any:
        def build() -> dict[str, Any]:
            made.append(index)
            return copy.deepcopy(document)

        return build

    return [builder(i, d) for i, d in enumerate(documents)], made


def test_an_exact_first_end_of_the_second_is_all_that_is_built(tmp_path: Path) -> None:
    saved, current = _documents(tmp_path)
    other = copy.deepcopy(saved)
    other["spec_warnings"] = ["something that was not there"]
    builders, made = _builders(saved, other)
    assert _refusal(saved, builders, current, None) == []
    assert made == [0]


def test_the_second_end_is_built_and_chosen_when_the_first_differs(tmp_path: Path) -> None:
    saved, current = _documents(tmp_path)
    other = copy.deepcopy(saved)
    other["spec_warnings"] = ["something that was not there"]
    builders, made = _builders(other, saved)
    assert _refusal(saved, builders, current, None) == []
    assert made == [0, 1]


def test_when_neither_end_is_exact_the_fewer_differences_are_named(tmp_path: Path) -> None:
    saved, current = _documents(tmp_path)
    one = copy.deepcopy(saved)
    one["spec_warnings"] = ["a"]
    two = copy.deepcopy(saved)
    two["spec_warnings"] = ["a"]
    two["spec_paths"] = ["elsewhere"]
    builders, made = _builders(two, one)
    problems = _refusal(saved, builders, current, None)
    assert made == [0, 1]
    assert len(problems) == 1, problems
    assert "spec_warnings" in problems[0], problems

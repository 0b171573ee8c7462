"""Golden plan cases (see harness.py for the format): each case file is one test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.planning.harness import CASES, mismatches, run_case

CASE_FILES = sorted(CASES.glob("*.yaml"))


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_golden_plan(case_file: Path, tmp_path: Path) -> None:
    run = run_case(case_file, tmp_path)
    problems = mismatches(run)
    assert not problems, f"{case_file.name}: {run.case.get('description', '')}\n" + "\n".join(problems)


def test_there_are_golden_cases() -> None:
    assert len(CASE_FILES) >= 15

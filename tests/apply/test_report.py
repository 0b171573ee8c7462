"""apply's outcome words: "nothing to do" and "not submitted" are two outcomes, never one ``skipped``."""

from __future__ import annotations

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.apply.report import EXIT_OK, EXIT_PARTIAL, ApplyReport


def report(*results: InstanceResult) -> ApplyReport:
    return ApplyReport(results=results, target={"description": "emulator"})


def test_nothing_to_do_and_not_submitted_are_distinct_words_everywhere() -> None:
    quiet = InstanceResult(id="pgm-a", outcome=Outcome.NOTHING_TO_DO, detail="in sync: SSL on")
    queued = InstanceResult(id="pgm-b", outcome=Outcome.NOT_SUBMITTED, detail="interrupted before submitting")
    both = report(quiet, queued)
    text = both.render_text()
    assert "pgm-a  nothing_to_do" in text
    assert "pgm-b  not_submitted" in text
    assert "1 nothing to do, 1 not submitted" in both.sentence()
    assert "skipped" not in text
    document = both.to_json()
    assert document["format_version"] == "2.0"  # the outcome words changed incompatibly
    assert (document["summary"]["nothing_to_do"], document["summary"]["not_submitted"]) == (1, 1)
    assert "skipped" not in document["summary"]
    assert [i["outcome"] for i in document["instances"]] == ["nothing_to_do", "not_submitted"]


def test_only_not_submitted_leaves_work_undone() -> None:
    # Nothing to do is done (exit 0); a change that was never sent is not (exit 3, as deferred is).
    assert report(InstanceResult(id="pgm-a", outcome=Outcome.NOTHING_TO_DO, detail="")).exit_code == EXIT_OK
    assert report(InstanceResult(id="pgm-b", outcome=Outcome.NOT_SUBMITTED, detail="")).exit_code == EXIT_PARTIAL
    assert report(InstanceResult(id="pgm-c", outcome=Outcome.DEFERRED, detail="")).exit_code == EXIT_PARTIAL

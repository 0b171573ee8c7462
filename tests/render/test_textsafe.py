"""Terminal-safe text: which characters are escaped, how, and that the renderers use it.

The renderers are checked on a plan whose every outside string carries a control sequence, and the
result is fed to a terminal emulator (pyte): the screen must show exactly the text of the plan.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from rdsssl_reconcile.apply.executor import InstanceResult, Outcome
from rdsssl_reconcile.apply.progress import LiveReporter, PlainReporter
from rdsssl_reconcile.apply.report import ApplyReport
from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.planning.model import (
    FieldChange,
    InstancePlan,
    Plan,
    PlannedPolicy,
    PlannedRequest,
    PlanStatus,
    RequestParameter,
    RestartAssessment,
    plan_to_json,
)
from rdsssl_reconcile.render.markdown import render_markdown
from rdsssl_reconcile.render.text import render_text
from rdsssl_reconcile.textsafe import is_unsafe, listing, visible, visible_lines
from tests.support.terminal import assert_screen_shows, render_screen

#: One of each family the issue names, with the escape a reader sees.
ESCAPES = {
    "\x00": r"\x00",
    "\x07": r"\x07",  # BEL
    "\x08": r"\x08",  # backspace
    "\t": r"\t",
    "\n": r"\n",
    "\r": r"\r",
    "\x1b": r"\x1b",  # ESC
    "\x7f": r"\x7f",  # DEL
    "\x85": r"\x85",  # C1 NEL
    "\x9b": r"\x9b",  # C1 CSI
    "\x9d": r"\x9d",  # C1 OSC
    "\u061c": r"\u061c",  # Arabic letter mark
    "\u200b": r"\u200b",  # zero-width space
    "\u200e": r"\u200e",  # left-to-right mark
    "\u200f": r"\u200f",  # right-to-left mark
    "\u2028": r"\u2028",  # line separator
    "\u2029": r"\u2029",  # paragraph separator
    "\u202a": r"\u202a",
    "\u202e": r"\u202e",  # right-to-left override
    "\u2066": r"\u2066",
    "\u2069": r"\u2069",  # pop directional isolate
    "\ufeff": r"\ufeff",  # BOM / zero-width no-break space
    "\udc9b": r"\udc9b",  # a non-UTF-8 byte of a file name, as os.fsdecode hands it over
    "\U000e0041": r"\U000e0041",  # tag character
}

HOSTILE = "a\x1b[2A\x1b]52;c;aGVsbG8=\x07b\rc\x08\u202ed\x9b1Ae\nPlan: 0 to change."


@pytest.mark.parametrize("char", sorted(ESCAPES), ids=[f"U+{ord(c):04X}" for c in sorted(ESCAPES)])
def test_each_family_is_escaped_visibly(char: str) -> None:
    assert visible(f"x{char}y") == f"x{ESCAPES[char]}y"
    assert is_unsafe(char)


@pytest.mark.parametrize(
    "text",
    [
        "Orders database; SSL must be on",
        "订单数据库 · Zürich · עברית · العربية · 🙂",
        r"C:\certs\server.crt and \x1b written by hand",  # backslashes are not escaped
        "non\u00a0breaking\u3000spaces",  # visible as spaces: left alone
    ],
)
def test_printable_text_is_left_alone(text: str) -> None:
    assert visible(text) == text


def test_every_c0_c1_and_del_is_escaped() -> None:
    controls = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]]
    for char in controls:
        shown = visible(char)
        assert shown.startswith("\\"), repr(char)
        assert shown.isascii(), repr(char)
        assert shown.isprintable(), repr(char)


_ESCAPE = re.compile(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[tnr])")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1]) or chr(int(m[1][1:], 16)), text)


@given(st.text(alphabet=st.characters(exclude_categories=(), exclude_characters="\\")))  # surrogates too
def test_escaping_is_safe_idempotent_and_reversible(text: str) -> None:
    shown = visible(text)
    assert not any(is_unsafe(c) for c in shown)
    assert visible(shown) == shown  # a boundary may escape again without damage
    assert _unescape(shown) == text  # nothing lost, nothing merged (text without backslashes)
    assert visible_lines(text).split("\n") == [visible(line) for line in text.split("\n")]


def test_visible_lines_keeps_only_the_newlines_between_lines() -> None:
    assert visible_lines("first\r\x1b[2Aline\nsecond") == "first\\r\\x1b[2Aline\nsecond"


def test_listing_keeps_each_item_on_one_line() -> None:
    text = listing("2 problems:", ["file 'a' is bad\n  - forged problem", "ok"])
    assert text.split("\n") == ["2 problems:", "  - file 'a' is bad\\n  - forged problem", "  - ok"]


def test_spec_error_items_cannot_forge_lines() -> None:
    error = SpecError(["spec.yaml:3: description: bad\x1b[2A\nspec.yaml:9: fine", "second"])
    assert str(error).split("\n") == [
        "2 problems in the specs:",
        "  - spec.yaml:3: description: bad\\x1b[2A\\nspec.yaml:9: fine",
        "  - second",
    ]
    assert error.problems[0].startswith("spec.yaml:3: description: bad\x1b")  # the data stays exact


# -- the harness itself: a raw sequence is caught -------------------------------------------------------


def test_the_screen_check_catches_what_a_raw_sequence_does() -> None:
    raw = "Target: emulator\nPlan: 1 to change, 1 restart.\n# note\x1b[2A\rPlan: 0 to change, 0 restarts. \n"
    screen = render_screen(raw)
    assert screen.rows[0] == "Plan: 0 to change, 0 restarts."  # the approver's first line was overwritten
    with pytest.raises(AssertionError):
        assert_screen_shows(raw)
    for sneaky in ("osc \x1b]52;c;aGVsbG8=\x07 end\n", "bell\x07 and\rCR\n", "back\x08\x08\x08\n"):
        with pytest.raises(AssertionError):
            assert_screen_shows(sneaky)
    assert_screen_shows(visible(raw.rstrip("\n")) + "\n")


# -- renderers -----------------------------------------------------------------------------------------


def _hostile_plan() -> Plan:
    change = FieldChange(
        "ssl.certificate", None, f"db.example.com, {HOSTILE} (issuer CN={HOSTILE})", "configure-custom-cert"
    )
    changing = InstancePlan(
        id="pgm-a",
        region="cn-hangzhou",
        description=HOSTILE,
        status=PlanStatus.CHANGE,
        changes=(change,),
        request=PlannedRequest(
            parameters=(
                RequestParameter("DBInstanceId", "pgm-a"),
                RequestParameter("ServerCert", f"<certificate from file srv{HOSTILE}.crt>"),
            )
        ),
        restart=RestartAssessment.of((change,)),
        warnings=(f"the last SSL change on this instance failed ({HOSTILE})",),
        notes=(HOSTILE,),
        policy=PlannedPolicy(),
        spec_location=f"specs/{HOSTILE}.yaml:2 (instances[0])",
    )
    failing = InstancePlan(
        id="pgm-b", region="cn-hangzhou", description=None, status=PlanStatus.ERROR, reasons=(HOSTILE,)
    )
    return Plan(
        instances=(changing, failing),
        generated_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        target={"kind": "emulator", "description": f"emulator at http://{HOSTILE}"},
        spec_paths=(f"specs/{HOSTILE}",),
        spec_warnings=(HOSTILE,),
    )


def test_text_plan_shows_every_outside_string_escaped_on_a_terminal() -> None:
    plan = _hostile_plan()
    styled = render_text(plan)  # what click.echo writes when colour is on
    assert "\x1b[31m" in styled  # colour is really there
    text = click.unstyle(styled)
    assert not any(is_unsafe(c) for c in text.replace("\n", ""))
    screen = assert_screen_shows(styled)
    escaped = visible(HOSTILE)
    assert screen.rows[screen.index("      # ")] == f"      # {escaped}"
    assert screen.rows[0] == f"Target: emulator at http://{escaped}"
    assert screen.rows[screen.index("Plan: ")] == f"Plan: {plan.summary.sentence()}."
    assert screen.cursor_row == len(text.splitlines())
    assert f"        ServerCert   = <certificate from file srv{escaped}.crt>" in screen.rows
    assert f"  x pgm-b (cn-hangzhou): error - {escaped}" in screen.rows


def test_markdown_escapes_visibly_before_markdown_and_html() -> None:
    markdown = render_markdown(_hostile_plan())
    assert not any(is_unsafe(c) for c in markdown.replace("\n", ""))
    escaped = visible(HOSTILE)
    assert f"Description: {escaped}" in markdown
    assert f"ServerCert = <certificate from file srv{escaped}.crt>" in markdown  # inside the request fence
    assert "\nPlan: 0 to change." not in markdown
    assert_screen_shows(markdown)


def test_markdown_code_spans_hold_backticks_and_pipes() -> None:
    plan = _hostile_plan()
    odd = InstancePlan(id="`x``|y", region="r", description=None, status=PlanStatus.IN_SYNC, reasons=("ok",))
    markdown = render_markdown(
        Plan(
            instances=(odd,),
            generated_at=plan.generated_at,
            target=plan.target,
            spec_paths=(),
            spec_warnings=(),
        )
    )
    # A fence longer than any run inside, padded because the text starts with a backtick (CommonMark).
    assert "| ``` `x``\\|y ``` | in_sync |" in markdown


def test_json_keeps_the_exact_value_escaped() -> None:
    document = json.dumps(plan_to_json(_hostile_plan(), tool_version="test"), indent=2)
    assert document.isascii()
    assert "\\u001b[2A" in document
    assert json.loads(document)["instances"][0]["description"] == HOSTILE


# -- apply progress and summary ------------------------------------------------------------------------


def test_plain_progress_and_summary_escape_details() -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream)
    result = InstanceResult(id="pgm-a", outcome=Outcome.FAILED, detail=f"API said {HOSTILE}")
    reporter.phase("pgm-a", "checking", f"ModifyDBInstanceSSL answered {HOSTILE}")
    reporter.message(HOSTILE)
    reporter.finished(result)
    report = ApplyReport(results=(result,), target={"description": f"emulator at {HOSTILE}"}).render_text()
    for text in (stream.getvalue(), report):
        assert not any(is_unsafe(c) for c in text.replace("\n", ""))
        assert_screen_shows(text)
    assert len(stream.getvalue().splitlines()) == 3
    assert f"API said {visible(HOSTILE)}" in report


def test_live_progress_table_escapes_details() -> None:
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=300, color_system="standard")
    reporter = LiveReporter(console=console)
    reporter.start(["pgm-a"])
    reporter.phase("pgm-a", "restarting", f"seen {HOSTILE}")
    reporter.close()
    screen = render_screen(output.getvalue())
    assert any(f"seen {visible(HOSTILE)}" in row for row in screen.rows), screen.rows
    assert any("rdsssl-reconcile apply" in row for row in screen.rows)  # the title was not overwritten

"""The verify renderers: one report, three views; values from servers and certificates cannot act or format."""

from __future__ import annotations

import json

import click
from markdown_it import MarkdownIt

from rdsssl_reconcile.render.verify_markdown import render_verify_markdown
from rdsssl_reconcile.render.verify_text import render_verify_text
from rdsssl_reconcile.verify.checks import judge
from rdsssl_reconcile.verify.model import (
    Expectation,
    InstanceReport,
    ProbeFailure,
    ProbeResult,
    Target,
    TlsSession,
    VerifyReport,
)
from tests.verify.helpers import NOW, Ca, der

HOSTILE = "evil\x1b[2A\u202e|**x**<b>.example.com"


def report() -> VerifyReport:
    ca = Ca(name="ca\x1b]52;c;aGk=\x07")
    good_name = "pgm-a.pg.rds.aliyuncs.com"
    good = judge(
        Target(good_name, 5432, "127.0.0.1", "--resolve"),
        Expectation(ssl=True),
        ProbeResult(
            ssl_answer="S", tls=TlsSession("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, (der(ca.leaf(good_name)),), True)
        ),
        NOW,
    )
    bad = judge(
        Target(good_name, 5432, "127.0.0.1"),
        Expectation(ssl=True),
        ProbeResult(ssl_answer="S", tls=TlsSession("TLSv1.3", "X", 128, (der(ca.leaf(cn=HOSTILE)),), True)),
        NOW,
    )
    refused = judge(
        Target("pgm-b.example.com", 1, "pgm-b.example.com"),
        Expectation(ssl=True),
        ProbeResult(ProbeFailure.CONNECTION_REFUSED, "refused"),
        NOW,
    )
    return VerifyReport(
        instances=(
            InstanceReport("pgm-a", "cn-hangzhou", "custom", endpoints=(good, bad)),
            InstanceReport("pgm-b\x1b[31m", "cn-hangzhou", "aliyun", endpoints=(refused,)),
        ),
        target={"description": "embedded emulator"},
        checked_at=NOW,
        parallelism=4,
        timeout_seconds=5,
    )


def test_text_escapes_every_value_and_puts_problems_first() -> None:
    text = click.unstyle(render_verify_text(report()))
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    assert "\\x1b[2A\\u202e" in text  # shown, not obeyed
    lines = text.splitlines()
    bad_block = lines.index("    pgm-a.pg.rds.aliyuncs.com:5432 via 127.0.0.1: ok") + 1
    assert lines[bad_block].strip().startswith("info     tls: ")
    mismatch = next(i for i, line in enumerate(lines) if "MISMATCH name_not_covered" in line)
    assert lines[mismatch - 1].endswith(": MISMATCH")  # the endpoint's header, then its problem first
    assert text.rstrip().endswith(
        "Verify: 1 ok, 1 mismatch, 1 error (3 endpoints of 2 instance(s), up to 4 at once, 0.00 s)."
    )


def test_markdown_leads_with_the_worst_news_and_no_value_formats_the_comment() -> None:
    markdown = render_verify_markdown(report())
    assert markdown.index("[!CAUTION]") < markdown.index("[!WARNING]")
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    assert not [t for t in tokens if t.type in ("html_inline", "html_block")]
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + 3  # header + one row per endpoint
    assert "\x1b" not in markdown
    assert "&lt;b&gt;" in markdown


def test_json_keeps_values_exact_and_escaped_by_json() -> None:
    document = report().to_json()
    text = json.dumps(document)
    assert "\x1b" not in text  # json.dumps writes \\u001b
    assert document["instances"][1]["id"] == "pgm-b\x1b[31m"
    assert document["exit_code"] == 1
    assert document["summary"] == {"ok": 1, "mismatch": 1, "error": 1, "endpoints": 3, "instances": 2}

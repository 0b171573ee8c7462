"""The Markdown plan as a pull-request comment: worst news first, a summary, details, within a size budget.

Plans are built directly from planning model values (pure and fast); a GitHub-flavoured parser
(markdown-it-py with its GFM table rule) reads the comment back as a reviewer's browser would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from rdsssl_reconcile.live.model import ReadError
from rdsssl_reconcile.planning.model import (
    FieldChange,
    InstancePlan,
    Plan,
    PlannedPolicy,
    PlannedRequest,
    PlanStatus,
    RequestParameter,
    RestartAssessment,
)
from rdsssl_reconcile.planning.rules import Restart
from rdsssl_reconcile.render.markdown import DEFAULT_MAX_BYTES, render_markdown
from rdsssl_reconcile.textsafe import visible

FACTS = {
    "engine": "PostgreSQL",
    "engine_version": "15.0",
    "storage_type": "cloud_essd",
    "pay_type": "Postpaid",
    "category": "HighAvailability",
    "instance_type": "Primary",
    "lock_mode": "Unlock",
}


def _live(**facts: Any) -> dict[str, Any]:
    return {"outcome": "found", "facts": FACTS | facts, "ssl": None}


def changing(instance_id: str, *, seconds: int | None = None, rule_id: str = "enable-ssl-cloud-cert") -> InstancePlan:
    endpoint = f"{instance_id}.pg.rds.aliyuncs.com"
    changes = (
        FieldChange("ssl.enabled", "false", "true", rule_id),
        FieldChange("ssl.endpoints", "(none)", endpoint, rule_id),
        FieldChange("ssl.certificate", "(none)", f"cloud certificate for {endpoint} (valid 365 days)", rule_id),
    )
    restart = RestartAssessment.of(changes)
    if seconds is not None:
        restart = RestartAssessment(restart.restart, restart.triggers, restart.rule_ids, estimated_seconds=seconds)
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=f"database {instance_id}",
        status=PlanStatus.CHANGE,
        changes=changes,
        request=PlannedRequest(
            parameters=(
                RequestParameter("DBInstanceId", instance_id),
                RequestParameter("ConnectionString", endpoint),
                RequestParameter("SSLEnabled", "1"),
                RequestParameter("CAType", "aliyun"),
            )
        ),
        restart=restart,
        policy=PlannedPolicy(),
        spec_location=f"specs/fleet.yaml:{len(instance_id)} (instances[0])",
        live=_live(),
    )


def in_sync(instance_id: str) -> InstancePlan:
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.IN_SYNC,
        reasons=(f"SSL on with the cloud certificate for {instance_id}.pg.rds.aliyuncs.com, expires in 300 days",),
        live=_live(),
    )


def not_found(instance_id: str) -> InstancePlan:
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.NOT_FOUND,
        reasons=(f"no instance {instance_id} in region cn-hangzhou",),
    )


def unreadable(instance_id: str, message: str = "The service is not available.") -> InstancePlan:
    error = ReadError("DescribeDBInstanceSSL", "ServiceUnavailable", message, request_id="REQ-1")
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.ERROR,
        reasons=(f"DescribeDBInstanceSSL failed: ServiceUnavailable: {message}",),
        error=error,
        live={"outcome": "error", "facts": None, "ssl": None},
    )


def serverless(instance_id: str) -> InstancePlan:
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.INELIGIBLE,
        reasons=("Serverless instance (PayType Serverless, Category serverless_basic): not supported",),
        live=_live(pay_type="Serverless", category="serverless_basic"),
    )


def stopped(instance_id: str) -> InstancePlan:
    return InstancePlan(
        id=instance_id,
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.INELIGIBLE,
        reasons=("status is Restarting, not Running: plan again when it is Running",),
        live=_live(),
    )


def plan_of(*instances: InstancePlan) -> Plan:
    return Plan(
        instances=instances,
        target={"kind": "emulator", "description": "emulator at http://127.0.0.1:1"},
        generated_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
    )


def fleet(total: int, *, restarts: int, extra: tuple[InstancePlan, ...] = ()) -> Plan:
    items = [changing(f"pgm-r{i:03d}") for i in range(restarts)]
    items += [in_sync(f"pgm-s{i:03d}") for i in range(total - restarts - len(extra))]
    # Mixed in, not at the front: the renderer must bring the worst news up.
    items[len(items) // 2 : len(items) // 2] = list(extra)
    return plan_of(*items)


def parse(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Every table as rows of cell texts (the header row first)."""
    found: list[list[list[str]]] = []
    row: list[str] | None = None
    for token in tokens:
        if token.type == "table_open":
            found.append([])
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content)
        elif token.type == "tr_close" and row is not None:
            found[-1].append(row)
            row = None
    return found


def alerts(tokens: list[Token]) -> list[str]:
    """The alert kind of each top-level blockquote, in order (``[!CAUTION]`` -> ``CAUTION``)."""
    kinds = []
    for index, token in enumerate(tokens):
        if token.type == "blockquote_open" and token.level == 0:
            first = tokens[index + 2].content
            kinds.append(first.split("\n", 1)[0].strip("[]!"))
    return kinds


def test_500_instances_with_3_errors_and_40_restarts_fit_a_github_comment() -> None:
    problems = (not_found("pgm-typo"), unreadable("pgm-503"), serverless("pgm-serverless"))
    plan = fleet(500, restarts=40, extra=(*problems, stopped("pgm-busy")))
    text = render_markdown(plan, declared={i.id: True for i in plan.instances})
    assert len(text) <= DEFAULT_MAX_BYTES
    assert len(text.encode()) <= DEFAULT_MAX_BYTES
    tokens = parse(text)
    assert alerts(tokens)[:2] == ["CAUTION", "WARNING"]
    assert "NOTE" not in alerts(tokens)
    # The CAUTION banner comes right after the title, and names how many and which.
    lines = text.splitlines()
    assert lines[2] == "> [!CAUTION]"
    assert "**3 instances cannot be planned or can never satisfy their spec**" in lines[3]
    banner = "\n".join(lines[2 : lines.index("", 2)])
    for item in problems:
        assert f"`{item.id}`" in banner
    assert "can never satisfy its spec: Serverless instance" in banner
    assert "**40 instances will restart (~3 min each):**" in text
    assert ", and 30 more" in text  # the restart banner names the first few, not all 40

    summary, listed = tables(tokens)[:2]
    assert summary[0] == ["To change", "Restarts", "Deferred", "In sync", "Ineligible", "Not found", "Errors"]
    assert summary[1] == ["40", "40 (~3 min each)", "0", "456", "2", "1", "1"]
    assert listed[0] == ["Instance", "Status", "Restart", "Details"]
    rows = listed[1:]
    hidden = int(rows[-1][0].split()[2]) if rows[-1][0].startswith("… and ") else 0
    assert len(rows) - (1 if hidden else 0) + hidden == 500
    # Worst first: the three errors, then the 40 restarts, then what cannot be planned now.
    assert [r[0] for r in rows[:3]] == ["`pgm-typo`", "`pgm-503`", "`pgm-serverless`"]
    assert all(r[2].startswith("**required") for r in rows[3:43])
    assert rows[43][0] == "`pgm-busy`"
    # Over budget, details blocks go first: some are left out, and the note says how many.
    kept = text.count("<details>")
    assert kept < 41
    assert f"this comment shows {len(rows) - (1 if hidden else 0)} of 500 instances and {kept} of 41 detail" in text
    assert "The full plan: run `rdsssl-reconcile plan`" in text
    assert text.rstrip().endswith(
        "**Plan:** 40 to change, 40 restarts (~3 min each), 456 in sync, 2 ineligible, 1 not found, 1 error."
    )


def test_rows_beyond_the_budget_become_one_and_k_more_row() -> None:
    plan = fleet(3000, restarts=300, extra=(not_found("pgm-typo"),))
    text = render_markdown(plan)
    assert len(text.encode()) <= DEFAULT_MAX_BYTES
    tokens = parse(text)
    assert alerts(tokens)[:2] == ["CAUTION", "WARNING"]
    summary, listed = tables(tokens)[:2]
    assert summary[1] == ["300", "300 (~3 min each)", "0", "2699", "0", "1", "0"]
    rows = listed[1:]
    assert rows[-1][0].startswith("… and ")
    hidden = int(rows[-1][0].split()[2])
    assert len(rows) - 1 + hidden == 3000
    assert rows[0][0] == "`pgm-typo`"
    assert "<details>" not in text  # details go before any row does
    assert f"this comment shows {len(rows) - 1} of 3000 instances and 0 of 300 detail blocks" in text


def test_five_instances_show_every_detail() -> None:
    plan = plan_of(changing("pgm-a"), changing("pgm-b"), in_sync("pgm-c"), not_found("pgm-d"), unreadable("pgm-e"))
    text = render_markdown(plan)
    tokens = parse(text)
    assert alerts(tokens) == ["CAUTION", "WARNING"]
    listed = tables(tokens)[1]
    assert [r[0] for r in listed[1:]] == ["`pgm-d`", "`pgm-e`", "`pgm-a`", "`pgm-b`", "`pgm-c`"]
    assert "To fit" not in text
    assert "… and" not in text
    for item in plan.instances:
        if item.status is PlanStatus.CHANGE:
            assert f"<details><summary><code>{item.id}</code>: change, restart required</summary>" in text
            assert f"Description: {item.description}" in text
            for change in item.changes:
                assert f"| `{change.field}` | {change.before} | {change.after} | required |" in text
            assert item.request is not None
            for parameter in item.request.parameters:
                assert f"{parameter.name} = {parameter.display}" in text
    assert (
        "- error: DescribeDBInstanceSSL answered `ServiceUnavailable`: The service is not available., request id `REQ-1`"
        in text
    )
    assert text.count("<details>") == 3  # two changes and the read error


def test_details_are_dropped_before_rows_and_the_note_says_where_the_full_plan_is() -> None:
    plan = fleet(60, restarts=20)
    everything = render_markdown(plan)
    assert everything.count("<details>") == 20
    budget = len(everything.encode()) - 3000
    text = render_markdown(plan, max_bytes=budget, full_plan="the saved plan `plan.json`.")
    assert len(text.encode()) <= budget
    kept = text.count("<details>")
    assert 0 < kept < 20
    assert "… and" not in text  # every row is still there
    assert len(tables(parse(text))[1]) == 61
    assert f"this comment shows 60 of 60 instances and {kept} of 20 detail blocks" in text
    assert "The full plan: the saved plan `plan.json`." in text
    # The details kept are the first ones in table order.
    assert [f"<code>pgm-r{i:03d}</code>" in text for i in range(20)] == [True] * kept + [False] * (20 - kept)


def test_banners_and_summary_stay_whatever_the_budget() -> None:
    plan = fleet(50, restarts=10, extra=(not_found("pgm-typo"),))
    text = render_markdown(plan, max_bytes=1024)
    assert "> [!CAUTION]" in text
    assert "> [!WARNING]" in text
    assert "| To change | Restarts | Deferred |" in text
    assert "**Plan:** 10 to change" in text
    assert "| … and 50 more |" in text  # not one instance row fits
    assert "this comment shows 0 of 50 instances and 0 of 10 detail blocks" in text


def test_no_restarts_note_only_when_true_and_nothing_failed() -> None:
    assert alerts(parse(render_markdown(plan_of(in_sync("pgm-a"))))) == ["NOTE"]
    assert alerts(parse(render_markdown(plan_of(in_sync("pgm-a"), not_found("pgm-b"))))) == ["CAUTION"]
    assert alerts(parse(render_markdown(plan_of(changing("pgm-a"))))) == ["WARNING"]
    later = render_markdown(plan_of(in_sync("pgm-a"), stopped("pgm-b")))
    assert alerts(parse(later)) == ["WARNING", "NOTE"]
    assert "**1 instance cannot be planned now** (not Running, or locked; plan again later): `pgm-b`" in later


def test_an_instance_that_cannot_carry_ssl_is_an_error_only_when_its_spec_declares_ssl() -> None:
    plan = plan_of(serverless("pgm-sl"))
    assert alerts(parse(render_markdown(plan, declared={"pgm-sl": True}))) == ["CAUTION"]
    assert alerts(parse(render_markdown(plan, declared={"pgm-sl": False}))) == ["NOTE"]
    assert alerts(parse(render_markdown(plan))) == ["CAUTION"]  # not told: the strict reading


def test_restart_banner_states_the_plans_own_estimates() -> None:
    one = render_markdown(plan_of(changing("pgm-a", seconds=60, rule_id="change-acl")))
    assert "**1 instance will restart (~1 min):** `pgm-a`" in one
    assert "1 of these restarts is assumed" in one
    assert "3 min" not in one
    mixed = render_markdown(plan_of(changing("pgm-a", seconds=60), changing("pgm-b", seconds=180)))
    assert "**2 instances will restart (~1-3 min each, ~4 min in total):**" in mixed
    assert "| 2 | 2 (~1-3 min each, ~4 min in total) |" in mixed


def test_text_from_the_api_cannot_forge_a_banner_or_break_a_cell() -> None:
    forged = "down\n\n> [!NOTE]\n> No instance restarts in this plan.| x |"
    text = render_markdown(plan_of(unreadable("pgm-e", forged), in_sync("pgm-a")))
    tokens = parse(text)
    assert alerts(tokens) == ["CAUTION"]
    assert "> [!NOTE]" not in text.replace(visible(forged), "")
    assert len(tables(tokens)[1][1]) == 4  # the pipe stayed inside its cell
    assert "down\\n\\n&gt; [!NOTE]" in text
    hostile_id = "pgm-\x1b[2Ax"
    shown = render_markdown(plan_of(not_found(hostile_id)))
    assert "\x1b" not in shown
    assert f"`{visible(hostile_id)}`" in shown


def test_a_long_reason_is_cut_in_the_table_and_the_banner() -> None:
    text = render_markdown(plan_of(unreadable("pgm-e", "x" * 5000)))
    assert "x" * 300 not in text.split("<details>")[0]
    assert "…" in text
    assert "x" * 5000 in text  # the details block keeps it whole
    assert len(text.encode()) <= DEFAULT_MAX_BYTES


def test_restart_kinds_in_the_table() -> None:
    text = render_markdown(plan_of(changing("pgm-a"), changing("pgm-b", rule_id="change-acl")))
    assert "| `pgm-a` | change | **required (~3 min)** |" in text
    restart = changing("pgm-b", rule_id="change-acl").restart
    assert restart.restart is Restart.UNKNOWN
    assert f"| `pgm-b` | change | **assumed (~{round(restart.estimated_seconds / 60)} min, undocumented)** |" in text

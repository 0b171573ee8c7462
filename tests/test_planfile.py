"""Saved plans without a network: reading (located errors), the schema, and the field-by-field comparison."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdsssl_reconcile.errors import PlanFileError
from rdsssl_reconcile.live.model import ReadError
from rdsssl_reconcile.planfile import (
    KIND,
    MAX_BYTES,
    MAX_DEPTH,
    locate_specs,
    parse_plan,
    plan_from_document,
    plan_schema,
    read_plan,
    saved_plan_document,
    schema_problems,
    write_plan,
)
from rdsssl_reconcile.planning.compare import (
    MISSING,
    Difference,
    decision_differences,
    describe,
    differences,
    explain,
    instance_moves,
    path_label,
    render_value,
    without_volatile,
)
from rdsssl_reconcile.planning.model import (
    Action,
    Deferral,
    DeferralReason,
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

NOW = datetime(2026, 11, 27, 18, 22, 30, tzinfo=UTC)
TARGET = {"kind": "emulator", "endpoint": "http://127.0.0.1:8080", "source": "RDSSSL_ENDPOINT", "description": "x"}


def a_plan() -> Plan:
    changes = (
        FieldChange("ssl.enabled", "false", "true", "enable-ssl-cloud-cert"),
        FieldChange("ssl.endpoints", None, "pgm-a.pg.rds.aliyuncs.com", "enable-ssl-cloud-cert"),
    )
    changed = InstancePlan(
        id="pgm-a",
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.CHANGE,
        changes=changes,
        request=PlannedRequest(
            (
                RequestParameter("DBInstanceId", "pgm-a"),
                RequestParameter("ConnectionString", "pgm-a.pg.rds.aliyuncs.com"),
            )
        ),
        restart=RestartAssessment.of(changes),
        policy=PlannedPolicy(),
        spec_location="specs/a.yaml:1 (instances[0])",
        live_fingerprint="f1",
        desired_digest="d1",
        live={"outcome": "found", "ssl": {"enabled": False}},
    )
    in_sync = InstancePlan(
        id="pgm-b",
        region="cn-hangzhou",
        description="reports",
        status=PlanStatus.IN_SYNC,
        reasons=("SSL is off, as declared",),
        policy=PlannedPolicy(),
        spec_location="specs/a.yaml:5 (instances[1])",
        live_fingerprint="f2",
        desired_digest="d2",
        live={"outcome": "found", "ssl": {"enabled": False}},
    )
    return Plan(instances=(changed, in_sync), target=TARGET, generated_at=NOW, spec_paths=("specs",))


def a_document() -> dict[str, Any]:
    document = saved_plan_document(a_plan(), ())
    document["desired"] = {"pgm-a": {"ssl": {"key": {"ref": {"file": "server.key"}}}}, "pgm-b": {}}
    return document


# -- the schema ------------------------------------------------------------------------------------------


def test_the_committed_schema_is_a_valid_schema_shipped_with_the_package() -> None:
    jsonschema.Draft202012Validator.check_schema(plan_schema())
    assert plan_schema()["properties"]["kind"]["const"] == KIND


def test_what_plan_out_writes_is_read_back_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made_in = tmp_path / "repo"
    (made_in / "out").mkdir(parents=True)
    monkeypatch.chdir(made_in)
    path = Path("out") / "plan.json"
    write_plan(path, a_plan(), ())
    origin = {"directory": os.path.realpath(made_in), "from_plan_file": ".."}
    assert read_plan(path) == saved_plan_document(a_plan(), (), origin=origin)
    assert schema_problems(a_document()) == []


def test_a_plan_is_never_written_over_a_device_or_fifo(tmp_path: Path) -> None:
    # The atomic rename would replace it with a regular file (as root, even /dev/null).
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    with pytest.raises(PlanFileError, match="not a regular file"):
        write_plan(fifo, a_plan(), ())
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["plan.fifo"]
    with pytest.raises(PlanFileError, match="not a regular file"):
        read_plan(fifo)  # without waiting for a writer


def _broken(edit: Any) -> dict[str, Any]:
    document = a_document()
    edit(document)
    return document


SCHEMA_CASES = [
    pytest.param(lambda d: d.update(instances=[{}]), "instances[0]: missing 'id', 'region'", id="instance-empty"),
    pytest.param(
        lambda d: d.update(instances="x"), "instances: expected a list, found a text (x)", id="instances-text"
    ),
    pytest.param(lambda d: d.update(instances=None), "instances: expected a list, found null", id="instances-null"),
    pytest.param(
        lambda d: d["instances"][0].update(changes=None),
        "instances[0].changes: expected a list, found null",
        id="changes-null",
    ),
    pytest.param(
        lambda d: d.update(spec_paths=5), "spec_paths: expected a list, found a whole number (5)", id="spec-paths-5"
    ),
    pytest.param(
        lambda d: d.update(desired=[]), "desired: expected an object, found a list (empty)", id="desired-list"
    ),
    pytest.param(lambda d: d.update(target="x"), "target: expected an object, found a text (x)", id="target-text"),
    pytest.param(
        lambda d: d["instances"][0]["request"]["parameters"][0].update(sensitive="no"),
        "instances[0].request.parameters[0].sensitive: expected true or false, found a text (no)",
        id="sensitive-text",
    ),
    pytest.param(
        lambda d: d["instances"][0]["changes"][0].update(restart="maybe"),
        "instances[0].changes[0].restart: expected one of required, unknown, not_required, found a text (maybe)",
        id="restart-enum",
    ),
    pytest.param(
        lambda d: d["summary"].update(restarts=True),
        "summary.restarts: expected a whole number, found true or false (true)",
        id="restarts-bool",
    ),
    pytest.param(lambda d: d.pop("summary"), "(top level): missing 'summary'", id="summary-missing"),
    pytest.param(
        lambda d: d["instances"][1].update(id="pgm-a"), "instances[1].id: pgm-a is already instances[0]", id="dup-id"
    ),
    pytest.param(
        lambda d: d["instances"][0].update(action="later"),
        "instances[0].action: expected one of now, deferred, null, found a text (later)",
        id="action-enum",
    ),
    pytest.param(
        lambda d: d["instances"][0]["changes"][0].update(before=0),
        "instances[0].changes[0].before: expected a text or true or false or a list or null, found a whole number (0)",
        id="typed-before",
    ),
    pytest.param(
        lambda d: d["instances"][0]["policy"].update(mode="sometimes"),
        "instances[0].policy.mode: expected one of allowed, window, never, found a text (sometimes)",
        id="policy-mode",
    ),
    pytest.param(lambda d: d.pop("allow_restart"), "(top level): missing 'allow_restart'", id="allow-restart"),
    pytest.param(
        lambda d: d["instances"][0].update(
            action="deferred",
            deferral={
                "reason": "window_closed",
                "policy": "window",
                "window": "sat 02:00-04:00",
                "closes_at": None,
                "next_opening": "2026-13-05T02:00:00Z",
                "estimated_seconds": 180,
            },
        ),
        "instances[0].deferral.next_opening: 2026-13-05T02:00:00Z is not a real UTC time",
        id="deferral-month-13",
    ),
    pytest.param(
        lambda d: d.update(generated_at="2026-13-01T00:00:00Z"),
        "generated_at: 2026-13-01T00:00:00Z is not a real UTC time",
        id="month-13",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), SCHEMA_CASES)
def test_schema_problems_are_located_in_plain_words(edit: Any, expected: str) -> None:
    problems = schema_problems(_broken(edit))
    assert any(expected in p for p in problems), problems
    assert not any("{'" in p or "is not of type" in p for p in problems), problems


def test_many_schema_problems_are_listed_in_document_order_and_counted(tmp_path: Path) -> None:
    document = a_document()
    document["instances"] = [{"id": f"pgm-{i}"} for i in range(12)]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PlanFileError) as caught:
        read_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a valid saved plan: instances[0]: missing 'region'")
    assert message.index("instances[1]:") < message.index("instances[2]:")
    assert message.endswith("(and 7 more)")


# -- parsing ---------------------------------------------------------------------------------------------


PARSE_CASES = [
    pytest.param(b"\xef\xbb\xbf{}", "line 1, column 1: not valid JSON (Unexpected UTF-8 BOM", id="bom"),
    pytest.param(b'{"a": "\xff"}', "line 1, column 8 (byte 7): not UTF-8 text (byte 0xff)", id="not-utf8"),
    pytest.param(b'{\n "a": 1,\n}', "line 3, column 1: not valid JSON", id="trailing-comma"),
    pytest.param(b"[" * 100_000, "line 1, column 65: JSON nested more than 64 levels deep", id="deep-100000"),
    pytest.param(
        b'{"a": [' + b"[" * 70 + b"]" * 70 + b"]}",
        "a[0]" + "[0]" * (MAX_DEPTH - 2) + ": nested more than 64 levels deep",
        id="deep-70",
    ),
    pytest.param(b'{"a": {"b": -Infinity}}', "a.b: -Infinity is not a JSON value", id="infinity"),
    pytest.param(b'{"a": [1, 2e400]}', "a[1]: 2e400 is a number out of range", id="overflow"),
    pytest.param(b'{"a": {"b": 1, "b": 2}}', "a.b: the key is written twice", id="duplicate-key"),
    pytest.param(b'{"a\\u001b[2J": 1, "a\\u001b[2J": 2}', "a\\x1b[2J: the key is written twice", id="escaped-key"),
]


@pytest.mark.parametrize(("data", "expected"), PARSE_CASES)
def test_unusable_json_is_a_located_error(data: bytes, expected: str) -> None:
    with pytest.raises(PlanFileError) as caught:
        parse_plan(data, "plan.json")
    assert str(caught.value).startswith("plan.json: "), caught.value
    assert expected in str(caught.value), caught.value


def test_a_huge_or_missing_file_is_refused_before_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(PlanFileError, match="is more than a plan file may be"):
        read_plan(huge)
    with pytest.raises(PlanFileError, match="no such plan file"):
        read_plan(tmp_path / "absent.json")
    with pytest.raises(PlanFileError, match="not a regular file"):
        read_plan(Path("/dev/null"))


# -- comparison ------------------------------------------------------------------------------------------


def test_the_same_document_has_no_differences_and_volatile_fields_are_ignored() -> None:
    document = a_document()
    assert list(differences(document, copy.deepcopy(document))) == []
    moved = copy.deepcopy(document)
    moved["generated_at"] = "2030-01-01T00:00:00Z"
    moved["target"] = {**moved["target"], "description": "other words", "source": "--endpoint"}
    assert list(differences(without_volatile(document), without_volatile(moved))) == []
    moved["target"]["endpoint"] = "http://elsewhere:1"
    assert [d.path for d in differences(without_volatile(document), without_volatile(moved))] == [
        ("target", "endpoint")
    ]


def test_an_unreadable_instance_is_compared_without_the_request_id_of_the_failed_read() -> None:
    def errored(request_id: str, code: str) -> dict[str, Any]:
        error = {"action": "DescribeDBInstanceSSL", "code": code, "message": "m", "request_id": request_id}
        return {"instances": [{"id": "pgm-a", "error": error}]}

    assert (
        list(differences(without_volatile(errored("R1", "Forbidden")), without_volatile(errored("R2", "Forbidden"))))
        == []
    )
    moved = list(
        differences(without_volatile(errored("R1", "Forbidden")), without_volatile(errored("R2", "Throttling")))
    )
    assert [d.path for d in moved] == [("instances", 0, "error", "code")]


def test_the_embedded_emulator_is_compared_by_what_starts_it_not_by_its_port() -> None:
    def embedded(endpoint: str, source: str) -> dict[str, Any]:
        return {
            "target": {"kind": "embedded-emulator", "endpoint": endpoint, "source": source, "description": endpoint}
        }

    first, second = (
        embedded("http://127.0.0.1:1", "specs/_target.yaml"),
        embedded("http://127.0.0.1:2", "specs/_target.yaml"),
    )
    assert list(differences(without_volatile(first), without_volatile(second))) == []
    other = embedded("http://127.0.0.1:2", "other/_target.yaml")
    assert [d.path for d in differences(without_volatile(first), without_volatile(other))] == [("target", "source")]


def test_json_types_are_compared_exactly() -> None:
    assert [d.path for d in differences({"a": 1}, {"a": True})] == [("a",)]
    assert [d.path for d in differences({"a": 1}, {"a": 1.0})] == [("a",)]
    assert [d.path for d in differences({"a": None}, {})] == [("a",)]


def _words(edit: Any) -> list[str]:
    in_file, plan = a_document(), a_document()
    edit(in_file)
    return explain(list(differences(in_file, plan)), in_file, plan)


WORDING = [
    pytest.param(
        lambda d: d["instances"][0]["request"]["parameters"][1].update(value="evil.example.com"),
        "pgm-a: the file says request.parameters[ConnectionString].value: evil.example.com; "
        "the plan now says pgm-a.pg.rds.aliyuncs.com",
        id="parameter",
    ),
    pytest.param(
        lambda d: d["summary"].update(restarts=0),
        "the file says summary.restarts: 0; the plan now says 1",
        id="summary",
    ),
    pytest.param(
        lambda d: d["instances"][0]["policy"].update(mode="never"),
        "pgm-a: the file says policy.mode: never; the spec now says allowed",
        id="policy",
    ),
    pytest.param(
        lambda d: d["desired"]["pgm-a"]["ssl"]["key"]["ref"].update(file="/tmp/x.key"),
        "pgm-a: the file says desired.ssl.key.ref.file: /tmp/x.key; the spec now says server.key",
        id="desired-ref",
    ),
    pytest.param(
        lambda d: d["instances"][0]["changes"][1].update(before_text=""),
        'pgm-a: the file says changes[ssl.endpoints].before_text: "" (empty); the plan now says (none)',
        id="empty-text",
    ),
    pytest.param(
        lambda d: d["instances"][1].update(live={"outcome": "found", "ssl": {"enabled": True}}),
        "pgm-b: the plan was made when ssl.enabled was true; the instance now says false",
        id="live",
    ),
    pytest.param(
        lambda d: d["instances"][1]["reasons"].append("\x1b]52;c;ZXZpbA==\x07"),
        "pgm-b: the file says reasons[1]: \\x1b]52;c;ZXZpbA==\\x07; the plan now has no such field",
        id="control-characters-made-visible",
    ),
    pytest.param(
        lambda d: d["instances"][0].pop("warnings"),
        "pgm-a: the file has no warnings; the plan now says (an empty list)",
        id="missing-key",
    ),
    pytest.param(
        lambda d: d["instances"].pop(0), "pgm-a: declared in the specs, but not in the file", id="instance-missing"
    ),
    pytest.param(
        lambda d: d["instances"][1].update(id="pgm-x"),
        "pgm-x: in the file, but no longer declared in the specs",
        id="instance-extra",
    ),
    pytest.param(
        lambda d: d["desired"].pop("pgm-b"),
        "pgm-b: the specs declare it; the file has no desired state for it",
        id="desired-missing",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), WORDING)
def test_a_difference_is_named_in_plain_words(edit: Any, expected: str) -> None:
    lines = _words(edit)
    assert expected in lines, lines


def test_causes_come_first_and_what_follows_from_them_is_one_line() -> None:
    in_file, plan = a_document(), a_document()
    item = plan["instances"][0]
    item["live"]["ssl"]["enabled"] = True
    item["status"], item["changes"], item["restart"] = "in_sync", [], "not_required"
    item["live_fingerprint"] = "f9"
    lines = explain(list(differences(in_file, plan)), in_file, plan)
    assert lines[0] == "pgm-a: the plan was made when ssl.enabled was false; the instance now says true"
    assert lines[1] == "pgm-a: so its plan now differs in status, changes, restart"
    assert not any("fingerprint" in line for line in lines)


def test_a_digest_is_named_only_when_nothing_readable_differs() -> None:
    in_file, plan = a_document(), a_document()
    in_file["instances"][0]["request"]["digest"] = "0" * 64
    assert explain(list(differences(in_file, plan)), in_file, plan) == [
        f"pgm-a: the file says request.digest: {'0' * 64}; the plan now says {plan['instances'][0]['request']['digest']}"
    ]


def test_decisions_ignore_how_long_is_left_but_not_what_changes() -> None:
    then = a_document()["instances"][0]
    now = copy.deepcopy(then)
    now["changes"][0]["reason"] = "renew: expires in 3 days"
    now["reasons"] = ["something else"]
    assert list(decision_differences(then, now)) == []
    now["changes"][0]["after"] = "false"
    assert [d.path for d in decision_differences(then, now)] == [("changes", 0, "after")]


def test_what_moved_before_a_request_is_named_in_plain_words() -> None:
    # apply asks this right before each request, against the plan it showed (not a file).
    shown = a_document()["instances"][0]
    assert instance_moves(shown, copy.deepcopy(shown)) == []
    now = copy.deepcopy(shown)
    now["live"]["ssl"]["enabled"] = True
    now["live_fingerprint"] = "f9"
    now["changes"] = now["changes"][1:]
    assert instance_moves(shown, now) == [
        "pgm-a: the plan shown was made when ssl.enabled was false; the instance now says true",
        "pgm-a: so its plan now differs in changes",
    ]


def test_values_are_rendered_without_python_reprs() -> None:
    assert render_value({"a": [1, None]}) == '{"a": [1, null]}'
    assert render_value(["a", "b"]) == "a, b"
    assert render_value(False) == "false"
    assert render_value(MISSING) == "nothing"
    assert render_value("x" * 500).endswith("…")
    assert len(render_value("x" * 500)) == 160
    assert path_label(("request", "parameters", 0, "value"), {"request": {"parameters": [{"name": "X"}]}}) == (
        "request.parameters[X].value"
    )
    line = describe(Difference(("summary", "restarts"), 0, 1), {}, {})
    assert line == "the file says summary.restarts: 0; the plan now says 1"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    return [path]


@given(document=st.dictionaries(st.text(max_size=3), JSON, min_size=1, max_size=4), data=st.data())
def test_any_single_leaf_change_is_found_at_its_path(document: dict[str, Any], data: st.DataObject) -> None:
    assert list(differences(document, copy.deepcopy(document))) == []
    path = data.draw(st.sampled_from(_leaf_paths(document)))
    changed = copy.deepcopy(document)
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    old = node[path[-1]]
    node[path[-1]] = [old] if not isinstance(old, list) else "changed"
    found = list(differences(document, changed))
    assert [d.path for d in found] == [path]
    assert found[0].in_file == old


# -- the Plan a file holds (show PLANFILE) -----------------------------------------------------------------


def _error_plan() -> Plan:
    unreadable = InstancePlan(
        id="pgm-x",
        region="cn-hangzhou",
        description=None,
        status=PlanStatus.ERROR,
        reasons=("DescribeDBInstanceSSL failed: ServiceUnavailable",),
        policy=PlannedPolicy(),
        spec_location="specs/a.yaml:9 (instances[2])",
        desired_digest="d3",
        error=ReadError(action="DescribeDBInstanceSSL", code="ServiceUnavailable", message="busy", request_id="r-1"),
    )
    missing = dataclasses.replace(unreadable, id="pgm-y", status=PlanStatus.NOT_FOUND, error=None, reasons=("gone",))
    return dataclasses.replace(a_plan(), instances=(*a_plan().instances, unreadable, missing), spec_warnings=("w",))


def _deferred_plan() -> Plan:
    """pgm-a deferred by a window that is too short (every deferral field set), under --allow-restart pgm-b."""
    plan = a_plan()
    changed = plan.instances[0]
    deferred = dataclasses.replace(
        changed,
        policy=PlannedPolicy(mode="window", window="sat 02:00-04:00", renew_before_days=20),
        action=Action.DEFERRED,
        deferral=Deferral(
            reason=DeferralReason.WINDOW_TOO_SHORT,
            policy="window",
            estimated_seconds=180,
            window="sat 02:00-04:00",
            closes_at=datetime(2026, 11, 28, 4, 0, tzinfo=UTC),
            next_opening=datetime(2026, 12, 5, 2, 0, tzinfo=UTC),
        ),
    )
    return dataclasses.replace(plan, instances=(deferred, *plan.instances[1:]), allow_restart=("pgm-b",))


@pytest.mark.parametrize(
    "plan",
    [a_plan(), _error_plan(), _deferred_plan()],
    ids=["change-and-in-sync", "error-and-not-found", "deferred"],
)
def test_a_saved_plan_is_rebuilt_into_the_plan_it_was_written_from(plan: Plan) -> None:
    document = json.loads(json.dumps(saved_plan_document(plan, ())))
    rebuilt = plan_from_document(document, "plan.json")
    assert rebuilt == plan
    assert render_text(rebuilt) == render_text(plan)
    assert render_markdown(rebuilt) == render_markdown(plan)


CASES = sorted((Path(__file__).parent / "cases" / "plan").glob("*.yaml"))


@pytest.mark.parametrize("case_file", CASES, ids=[p.stem for p in CASES])
def test_every_golden_plan_survives_the_saved_file_exactly(case_file: Path, tmp_path: Path) -> None:
    # Every status, rule, request shape and certificate text the planner makes: each renders the same
    # from the file as from the plan itself, so show PLANFILE prints what plan printed.
    from tests.planning.harness import run_case

    plan = dataclasses.replace(run_case(case_file, tmp_path).plan, target=TARGET)
    document = json.loads(json.dumps(saved_plan_document(plan, ())))
    assert schema_problems(document) == []
    rebuilt = plan_from_document(document, "plan.json")
    assert plan_to_json(rebuilt, tool_version="t") == plan_to_json(plan, tool_version="t")
    assert render_text(rebuilt) == render_text(plan)
    assert render_markdown(rebuilt) == render_markdown(plan)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda d: d["summary"].update(restarts=0),
            "summary.restarts: the file says 0; the plan it describes says 1",
            id="summary-that-does-not-count-its-instances",
        ),
        pytest.param(
            lambda d: d["instances"][0]["restart_detail"]["rules"][0].update(source="trust me"),
            "instances[0].restart_detail.rules[0].source: the file says trust me; the plan it describes says",
            id="rule-text-of-another-version",
        ),
        pytest.param(
            lambda d: d["instances"][0]["changes"][0].update(rule="no-such-rule"),
            "instances[0].changes[ssl.enabled].restart: the file says required; the plan it describes says unknown",
            id="unknown-rule",
        ),
        pytest.param(
            lambda d: d["instances"][0]["request"].update(digest="0" * 64),
            "instances[0].request.digest: the file says 0000",
            id="request-digest",
        ),
        pytest.param(
            lambda d: d["instances"][1].update(approved_by="the DBA"),
            "instances[1].approved_by: the file says the DBA; the plan it describes says nothing",
            id="extra-key",
        ),
    ],
)
def test_a_file_that_cannot_be_shown_exactly_is_refused_naming_the_field(edit: Any, expected: str) -> None:
    document = a_document()
    edit(document)
    assert schema_problems(document) == []
    with pytest.raises(PlanFileError) as raised:
        plan_from_document(document, "plan.json")
    message = str(raised.value)
    assert message.startswith("plan.json: cannot be shown exactly as saved"), message
    assert expected in message, message
    assert "apply would refuse it too" in message


# -- where the specs are (apply PLANFILE from any directory) -----------------------------------------------


def _with_origin(directory: Path, from_plan_file: str, spec_paths: list[str]) -> dict[str, Any]:
    document = a_document()
    document["spec_paths"] = spec_paths
    document["origin"] = {"directory": str(directory), "from_plan_file": from_plan_file}
    assert schema_problems(document) == []
    return document


def test_the_specs_are_found_where_the_plan_was_made_first(tmp_path: Path) -> None:
    made_in, elsewhere = tmp_path / "repo", tmp_path / "copy"
    for root in (made_in, elsewhere):
        (root / "specs").mkdir(parents=True)
    document = _with_origin(made_in, "..", ["specs"])
    found = locate_specs(document, elsewhere / "out" / "p.plan", tmp_path, "p.plan")
    assert (found.directory, found.how) == (made_in, "the directory the plan was made in")


def test_a_moved_checkout_is_found_through_the_plan_files_place_then_the_current_directory(tmp_path: Path) -> None:
    copy_dir = tmp_path / "copy"
    (copy_dir / "specs").mkdir(parents=True)
    (copy_dir / "out").mkdir()
    document = _with_origin(tmp_path / "gone", "..", ["specs"])
    found = locate_specs(document, copy_dir / "out" / "p.plan", tmp_path, "p.plan")
    assert found.directory == copy_dir.resolve()
    assert found.how == "relative to the plan file, as when it was saved"
    # The plan file elsewhere (a downloaded artifact), run from the repository root.
    found = locate_specs(document, tmp_path / "p.plan", copy_dir, "p.plan")
    assert (found.directory, found.how) == (copy_dir, "the current directory")


def test_a_plan_without_origin_reads_the_specs_from_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    document = a_document()
    assert "origin" not in document
    assert locate_specs(document, Path("/elsewhere/p.plan"), tmp_path, "p.plan").directory == tmp_path


def test_missing_specs_are_named_with_every_place_looked_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "here" / "specs").mkdir(parents=True)  # one of two spec paths exists here
    document = _with_origin(tmp_path / "gone", "repo", ["specs", "more/a.yaml"])
    with pytest.raises(PlanFileError) as raised:
        locate_specs(document, tmp_path / "p.plan", tmp_path / "here", "p.plan")
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        f"p.plan: cannot find the specs this plan was made from (spec paths: specs, more/a.yaml; made in "
        f"{tmp_path / 'gone'}), so it cannot be checked or applied; nothing was changed. Looked for:"
    )
    assert lines[1:4] == [
        f"  - {tmp_path / 'gone' / 'specs'} (the directory the plan was made in): no such file or directory",
        f"  - {tmp_path.resolve() / 'repo' / 'specs'} (relative to the plan file, as when it was saved): "
        "no such file or directory",
        f"  - {tmp_path / 'here' / 'more' / 'a.yaml'} (the current directory): no such file or directory",
    ]
    assert lines[4].startswith("Run apply from the directory the plan was made in (the repository root, where specs")

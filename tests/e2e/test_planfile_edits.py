"""``apply PLANFILE``: the reviewed plan is the applied plan (issue 8, acceptance 2).

Every edit of what a reviewer could read in a saved plan is refused, naming the field in plain words;
every malformed file is a located error; in both cases nothing is modified (the emulator's call log
has no ``ModifyDBInstanceSSL``). A property test mutates random fields and asserts refusal or exactly
the behaviour of the untouched file.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.planfile import MAX_BYTES
from tests.e2e.conftest import CliResult, Pki, aliyun_spec, endpoint_of, instance_entry, write_spec

pytestmark = pytest.mark.e2e
FAST = ("--poll-interval", "0.05", "--max-restarts", "3")

Cli = Callable[..., CliResult]
Doc = dict[str, Any]


def modifies(emulator: RunningEmulator) -> list[dict[str, Any]]:
    return emulator.admin.calls(action="ModifyDBInstanceSSL")


def one(items: list[Doc], **match: Any) -> Doc:
    (found,) = [i for i in items if all(i.get(k) == v for k, v in match.items())]
    return found


def build_world(emulator: RunningEmulator, spec_dir: Path, pki: Pki) -> None:
    """pgm-a: SSL off, to be enabled (restart); pgm-b: in sync ("expires in N days"); pgm-c: custom cert."""
    emulator.admin.reset()
    emulator.admin.add_instances(
        [
            instance_entry("pgm-a"),
            instance_entry("pgm-b", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-b")}),
            instance_entry("pgm-c"),
        ]
    )
    if not (spec_dir / "server.key").exists():
        server = pki.server(endpoint_of("pgm-c"))
        (spec_dir / "server.crt").write_text(server.cert_pem(), encoding="utf-8")
        (spec_dir / "server.key").write_text(server.key_pem(), encoding="utf-8")
        (spec_dir / "server.key").chmod(0o600)
    write_spec(
        spec_dir,
        aliyun_spec("pgm-a", "pgm-b")
        + "  - id: pgm-c\n    region: cn-hangzhou\n"
        + f"    ssl: {{enabled: true, endpoints: [{endpoint_of('pgm-c')}], certificate: "
        + "{source: custom, cert: {file: server.crt}, key: {file: server.key}}}\n",
    )


@pytest.fixture
def saved(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, tmp_path: Path) -> tuple[Path, Doc]:
    build_world(cloud_env, spec_dir, pki)
    plan_file = tmp_path / "reviewed.plan"
    made = cli("plan", str(spec_dir), "--out", str(plan_file))
    assert made.code == 0, made.text
    cloud_env.admin.clear_calls()
    return plan_file, json.loads(plan_file.read_text(encoding="utf-8"))


def apply_file(cli: Cli, plan_file: Path, tmp_path: Path, *extra: str) -> CliResult:
    return cli("apply", str(plan_file), *FAST, "--audit-log", str(tmp_path / "audit.jsonl"), *extra)


def refused(result: CliResult, emulator: RunningEmulator) -> str:
    """Assert a refusal that changed nothing and is not an internal error; returns stderr."""
    assert result.code == 1, result.text
    assert "Internal error" not in result.text, result.text
    assert "Traceback" not in result.text, result.text
    assert result.err.startswith("Error: "), result.err
    assert modifies(emulator) == []
    return result.err


# -- edits of what a reviewer reads -----------------------------------------------------------------------


def _param(doc: Doc, instance: str, name: str) -> Doc:
    return one(one(doc["instances"], id=instance)["request"]["parameters"], name=name)


def _change(doc: Doc, instance: str, field: str) -> Doc:
    return one(one(doc["instances"], id=instance)["changes"], field=field)


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        node: Any = doc
        for step in path[:-1]:
            node = one(node, id=step) if isinstance(node, list) else node[step]
        node[path[-1]] = value

    return edit


def _connection_string(doc: Doc) -> None:
    _param(doc, "pgm-a", "ConnectionString")["value"] = "attacker.example.com"


def _certificate_text(doc: Doc) -> None:
    change = _change(doc, "pgm-a", "ssl.certificate")
    change["after_text"] = change["after_text"].replace("valid 365 days", "valid 3650 days")


def _server_cert_text(doc: Doc) -> None:
    parameter = _param(doc, "pgm-c", "ServerCert")
    parameter["value"] = parameter["value"].replace("from file server.crt", "from file reviewed.crt")


def _key_ref(doc: Doc) -> None:
    doc["desired"]["pgm-c"]["ssl"]["certificate"]["key"]["ref"]["file"] = "/etc/other.key"


def _change_restart(doc: Doc) -> None:
    _change(doc, "pgm-a", "ssl.enabled")["restart"] = "not_required"


def _extra_key(doc: Doc) -> None:
    one(doc["instances"], id="pgm-a")["approved_by"] = "the DBA"


def _drop_change(doc: Doc) -> None:
    one(doc["instances"], id="pgm-a")["changes"].pop()


def _drop_instance(doc: Doc) -> None:
    doc["instances"] = [i for i in doc["instances"] if i["id"] != "pgm-b"]


def _reorder(doc: Doc) -> None:
    doc["instances"].reverse()


EDITS = [
    pytest.param(
        _connection_string,
        "pgm-a: the file says request.parameters[ConnectionString].value: attacker.example.com; "
        "the plan now says pgm-a.pg.rds.aliyuncs.com",
        id="request-ConnectionString",
    ),
    pytest.param(
        _certificate_text,
        "pgm-a: the file says changes[ssl.certificate].after_text: cloud certificate for pgm-a.pg.rds.aliyuncs.com "
        "(issued by Alibaba Cloud at apply, valid 3650 days); the plan now says cloud certificate for "
        "pgm-a.pg.rds.aliyuncs.com (issued by Alibaba Cloud at apply, valid 365 days)",
        id="certificate-display-text",
    ),
    pytest.param(
        _server_cert_text,
        "pgm-c: the file says request.parameters[ServerCert].value: <certificate sha256 ",
        id="request-ServerCert-display-text",
    ),
    pytest.param(
        _set(("summary", "restarts"), 0),
        "the file says summary.restarts: 0; the plan now says 2",
        id="summary-restarts",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "policy", "mode"), "never"),
        "pgm-a: the file says policy.mode: never; the spec now says allowed",
        id="policy-mode",
    ),
    pytest.param(
        _key_ref,
        "pgm-c: the file says desired.ssl.certificate.key.ref.file: /etc/other.key; the spec now says server.key",
        id="desired-key-ref-file",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "restart"), "not_required"),
        "pgm-a: the file says restart: not_required; the plan now says required",
        id="instance-restart",
    ),
    pytest.param(
        _change_restart,
        "pgm-a: the file says changes[ssl.enabled].restart: not_required; the plan now says required",
        id="change-restart",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "restart_detail", "estimated_seconds"), 0),
        "pgm-a: the file says restart_detail.estimated_seconds: 0; the plan now says 180",
        id="restart-estimate",
    ),
    pytest.param(
        _set(("instances", "pgm-b", "reasons"), ["SSL on, reviewed by security"]),
        "pgm-b: the file says reasons[0]: SSL on, reviewed by security; the plan now says SSL on with",
        id="reason-text",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "warnings"), ["restarts at 03:00 only"]),
        "pgm-a: the file says warnings[0]: restarts at 03:00 only; the plan now has no such field",
        id="warning-added",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "notes"), ["no downtime"]),
        "pgm-a: the file says notes[0]: no downtime; the plan now has no such field",
        id="note-added",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "spec"), "specs/other.yaml:1 (instances[0])"),
        "pgm-a: the file says spec: specs/other.yaml:1 (instances[0]); the spec now says",
        id="spec-location",
    ),
    pytest.param(
        _set(("instances", "pgm-a", "description"), "harmless"),
        "pgm-a: the file says description: harmless; the spec now says (none)",
        id="description",
    ),
    pytest.param(
        _set(("spec_warnings",), ["all good"]),
        "the file says spec_warnings[0]: all good; the spec now has no such field",
        id="spec-warnings",
    ),
    pytest.param(
        _extra_key, "pgm-a: the file says approved_by: the DBA; the plan now has no such field", id="extra-key"
    ),
    pytest.param(_drop_change, "pgm-a: the file has no changes[2]; the plan now says", id="change-removed"),
    pytest.param(_drop_instance, "pgm-b: declared in the specs, but not in the file", id="instance-removed"),
    pytest.param(_reorder, "the file lists the instances as pgm-c, pgm-b, pgm-a", id="instances-reordered"),
    pytest.param(
        _set(("target", "endpoint"), "http://127.0.0.1:1"),
        "the plan was made against",
        id="target-endpoint",
    ),
    pytest.param(
        _set(("tool_version",), "9.9.9"), "the plan was made by rdsssl-reconcile 9.9.9, this is", id="tool-version"
    ),
]


@pytest.mark.parametrize(("edit", "expected"), EDITS)
def test_an_edit_of_what_a_reviewer_reads_is_refused_in_plain_words(
    edit: Callable[[Doc], None],
    expected: str,
    cli: Cli,
    cloud_env: RunningEmulator,
    saved: tuple[Path, Doc],
    tmp_path: Path,
) -> None:
    plan_file, document = saved
    edit(document)
    plan_file.write_text(json.dumps(document, indent=2), encoding="utf-8")
    err = refused(apply_file(cli, plan_file, tmp_path), cloud_env)
    assert expected in err, err
    assert "{'" not in err, "no Python reprs in a refusal"
    assert "':" not in err, "no Python reprs in a refusal"


def test_the_untouched_file_applies_and_sends_the_rebuilt_requests(
    cli: Cli, cloud_env: RunningEmulator, saved: tuple[Path, Doc], tmp_path: Path
) -> None:
    plan_file, _ = saved
    result = apply_file(cli, plan_file, tmp_path)
    assert result.code == 0, result.text
    assert sorted(c["instance_id"] for c in modifies(cloud_env) if c["outcome"] == "ok") == ["pgm-a", "pgm-c"]


def test_a_plan_saved_days_ago_applies_when_the_decisions_are_the_same(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    # pgm-b's reason says "expires in N days": true as of the plan's time, rebuilt as of it.
    build_world(cloud_env, spec_dir, pki)
    plan_file = tmp_path / "reviewed.plan"
    then = datetime.now(UTC).replace(microsecond=0)
    assert cli("plan", str(spec_dir), "--out", str(plan_file), "--now", f"{then:%Y-%m-%dT%H:%M:%SZ}").code == 0
    reasons = one(json.loads(plan_file.read_text())["instances"], id="pgm-b")["reasons"]
    assert any("expires in" in r for r in reasons), reasons
    cloud_env.admin.clear_calls()
    later = then + timedelta(days=3)
    result = apply_file(cli, plan_file, tmp_path, "--now", f"{later:%Y-%m-%dT%H:%M:%SZ}")
    assert result.code == 0, result.text
    assert sorted(c["instance_id"] for c in modifies(cloud_env) if c["outcome"] == "ok") == ["pgm-a", "pgm-c"]


def test_a_plan_whose_decisions_moved_with_time_is_refused(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    # Reviewed when pgm-b was in sync; a year later its certificate is due for renewal: a restart
    # nobody reviewed.
    build_world(cloud_env, spec_dir, pki)
    plan_file = tmp_path / "reviewed.plan"
    assert cli("plan", str(spec_dir), "--out", str(plan_file)).code == 0
    cloud_env.admin.clear_calls()
    later = datetime.now(UTC) + timedelta(days=360)
    err = refused(apply_file(cli, plan_file, tmp_path, "--now", f"{later:%Y-%m-%dT%H:%M:%SZ}"), cloud_env)
    assert "pgm-b: the plan is as of" in err
    assert "at this time status would be change instead of in_sync" in err


def test_a_moved_live_state_is_named_before_what_follows_from_it(
    cli: Cli, cloud_env: RunningEmulator, saved: tuple[Path, Doc], tmp_path: Path
) -> None:
    plan_file, _ = saved
    # pgm-c is to get its custom certificate; someone turns on the cloud certificate instead.
    cloud_env.admin.set_instance("pgm-c", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-c")})
    cloud_env.admin.clear_calls()
    err = refused(apply_file(cli, plan_file, tmp_path), cloud_env)
    lines = [line.removeprefix("  - ") for line in err.splitlines()[1:]]
    assert lines[0].startswith("pgm-c: the plan was made when ssl."), lines
    assert "pgm-c: the plan was made when ssl.enabled was false; the instance now says true" in lines
    assert any(line.startswith("pgm-c: so its plan now differs in changes") for line in lines), err


def test_with_target_only_that_instance_is_compared(
    cli: Cli, cloud_env: RunningEmulator, saved: tuple[Path, Doc], tmp_path: Path
) -> None:
    plan_file, document = saved
    one(document["instances"], id="pgm-c")["policy"]["mode"] = "never"
    plan_file.write_text(json.dumps(document), encoding="utf-8")
    result = apply_file(cli, plan_file, tmp_path, "--target", "pgm-a")
    assert result.code == 0, result.text
    assert [c["instance_id"] for c in modifies(cloud_env)] == ["pgm-a"]
    cloud_env.admin.clear_calls()
    assert "pgm-c: the file says policy" in refused(
        apply_file(cli, plan_file, tmp_path, "--target", "pgm-c"), cloud_env
    )


# -- malformed files ---------------------------------------------------------------------------------------


def _text(content: str | bytes) -> Callable[[Doc, Path], None]:
    def write(_doc: Doc, path: Path) -> None:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return write


def _edited(edit: Callable[[Doc], None]) -> Callable[[Doc, Path], None]:
    def write(doc: Doc, path: Path) -> None:
        edit(doc)
        path.write_text(json.dumps(doc), encoding="utf-8")

    return write


def _first_instance(key: str, value: Any) -> Callable[[Doc], None]:
    def edit(doc: Doc) -> None:
        doc["instances"][0][key] = value

    return edit


def _deep(doc: Doc, path: Path) -> None:
    path.write_text('{"kind": "rdsssl-reconcile/saved-plan", "x": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _deep_but_parseable(doc: Doc, path: Path) -> None:
    doc["instances"][0]["live"] = json.loads("[" * 200 + "]" * 200)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _huge(_doc: Doc, path: Path) -> None:
    with path.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(MAX_BYTES + 1)


def _not_utf8(doc: Doc, path: Path) -> None:
    text = json.dumps(doc).replace('"pgm-a"', '"pgm-\xe9"', 1)
    path.write_bytes(text.encode("latin-1"))


def _duplicate_id(doc: Doc) -> None:
    doc["instances"][1]["id"] = doc["instances"][0]["id"]


def _duplicate_key(doc: Doc, path: Path) -> None:
    text = json.dumps(doc, indent=1).replace('"restarts": 2', '"restarts": 2,\n  "restarts": 0', 1)
    path.write_text(text, encoding="utf-8")


MALFORMED = [
    pytest.param(
        _edited(_set(("instances",), [{}])),
        "reviewed.plan: not a valid saved plan: instances[0]: missing 'id'",
        id="instances-empty-object",
    ),
    pytest.param(
        _edited(_set(("instances",), "x")), "instances: expected a list, found a text (x)", id="instances-string"
    ),
    pytest.param(_edited(_set(("instances",), None)), "instances: expected a list, found null", id="instances-null"),
    pytest.param(
        _edited(_first_instance("changes", None)),
        "instances[0].changes: expected a list, found null",
        id="changes-null",
    ),
    pytest.param(
        _edited(_first_instance("request", [])),
        "instances[0].request: expected an object or null, found a list (empty)",
        id="request-list",
    ),
    pytest.param(
        _edited(_set(("spec_paths",), 5)),
        "spec_paths: expected a list, found a whole number (5)",
        id="spec-paths-number",
    ),
    pytest.param(
        _edited(_set(("desired",), [])), "desired: expected an object, found a list (empty)", id="desired-list"
    ),
    pytest.param(_edited(_set(("target",), "x")), "target: expected an object, found a text (x)", id="target-string"),
    pytest.param(
        _edited(_set(("summary", "restarts"), "0")),
        "summary.restarts: expected a whole number, found a text (0)",
        id="summary-restarts-text",
    ),
    pytest.param(
        _edited(_set(("summary", "restarts"), -1)),
        "summary.restarts: expected at least 0, found a whole number (-1)",
        id="summary-restarts-negative",
    ),
    pytest.param(
        _edited(_first_instance("status", "approved")),
        "instances[0].status: expected one of in_sync, change",
        id="status-unknown",
    ),
    pytest.param(
        _edited(_set(("generated_at",), "yesterday")),
        "generated_at: expected a UTC time such as 2026-11-27T18:22:30Z, found a text (yesterday)",
        id="generated-at-text",
    ),
    pytest.param(
        _edited(_set(("generated_at",), "2026-02-30T00:00:00Z")),
        "generated_at: 2026-02-30T00:00:00Z is not a real UTC time",
        id="generated-at-impossible",
    ),
    pytest.param(_edited(_duplicate_id), "instances[1].id: pgm-a is already instances[0]", id="duplicate-instance-id"),
    pytest.param(
        _edited(_set(("kind",), "terraform")),
        "reviewed.plan: not a plan saved by 'rdsssl-reconcile plan --out'",
        id="wrong-kind",
    ),
    pytest.param(
        _edited(_set(("format_version",), "3.0")),
        "format_version: plan format 3.0 is not supported by this version (expects 2.0): it was saved by another "
        "rdsssl-reconcile",
        id="format-version-newer",
    ),
    pytest.param(
        _edited(_set(("format_version",), "1.0")),
        "format_version: plan format 1.0 is not supported by this version (expects 2.0): it was saved by an older "
        "rdsssl-reconcile; make the plan again with this version ('plan --out'); nothing was read or changed",
        id="format-version-older",
    ),
    pytest.param(
        _deep, "reviewed.plan: line 1, column 109: JSON nested more than 64 levels deep", id="nested-100000-deep"
    ),
    pytest.param(_deep_but_parseable, "reviewed.plan: instances[0].live[0][0]", id="nested-200-deep"),
    pytest.param(_not_utf8, "reviewed.plan: line 1, column", id="not-utf8"),
    pytest.param(_huge, "reviewed.plan: 64.0 MiB is more than a plan file may be (64.0 MiB)", id="huge"),
    pytest.param(_text(""), "reviewed.plan: line 1, column 1: not valid JSON (Expecting value)", id="empty"),
    pytest.param(_text('{"kind": '), "reviewed.plan: line 1, column 10: not valid JSON", id="truncated"),
    pytest.param(_text("[]"), "not a plan saved by 'rdsssl-reconcile plan --out'", id="top-level-list"),
    pytest.param(
        _text('{"kind": "rdsssl-reconcile/saved-plan", "n": NaN}'),
        "reviewed.plan: n: NaN is not a JSON value",
        id="nan",
    ),
    pytest.param(
        _text('{"kind": "rdsssl-reconcile/saved-plan", "n": 1e999}'),
        "reviewed.plan: n: 1e999 is a number out of range",
        id="infinite-number",
    ),
    pytest.param(
        _text('{"kind": "rdsssl-reconcile/saved-plan", "n": ' + "9" * 5000 + "}"),
        "reviewed.plan: n: 99999999999999999999… is a number too long to read",
        id="huge-integer",
    ),
    pytest.param(_duplicate_key, "reviewed.plan: summary.restarts: the key is written twice", id="duplicate-key"),
]


@pytest.mark.parametrize(("write", "expected"), MALFORMED)
def test_a_malformed_plan_file_is_a_located_error(
    write: Callable[[Doc, Path], None],
    expected: str,
    cli: Cli,
    cloud_env: RunningEmulator,
    saved: tuple[Path, Doc],
    tmp_path: Path,
) -> None:
    plan_file, document = saved
    write(document, plan_file)
    err = refused(apply_file(cli, plan_file, tmp_path), cloud_env)
    assert expected in err, err
    assert len(err) < 2000, "a located message, not a dump"
    assert cloud_env.admin.calls() == [], "refused before any cloud call"


def test_a_fifo_given_as_the_plan_file_is_an_error_not_a_hang(
    cli: Cli, cloud_env: RunningEmulator, tmp_path: Path
) -> None:
    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    result = cli("apply", str(fifo), "--audit-log", str(tmp_path / "audit.jsonl"))
    assert result.code == 1, result.text
    assert "Internal error" not in result.text
    assert cloud_env.admin.calls() == []


# -- property: refusal or the very same apply --------------------------------------------------------------


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _put(document: Doc, path: tuple[Any, ...], value: Any) -> None:
    node: Any = document
    for step in path[:-1]:
        node = node[step]
    if path:
        node[path[-1]] = value


def _get(document: Doc, path: tuple[Any, ...]) -> Any:
    node: Any = document
    for step in path:
        node = node[step]
    return node


def _mutated(original: Any, draw: st.DrawFn) -> Any:
    if isinstance(original, bool):
        return draw(st.sampled_from([not original, None, 1 if original else 0]))
    if isinstance(original, int):
        return draw(st.sampled_from([original + 1, original - 1, 0, str(original), None]))
    if isinstance(original, str):
        return draw(
            st.one_of(
                st.sampled_from([original + " ", original.upper(), "", original[:-1], None, 0]),
                st.text(max_size=12),
            )
        )
    return draw(st.sampled_from(["x", 0, None, {}, []]))


@st.composite
def mutations(draw: st.DrawFn, document: Doc) -> tuple[str, Callable[[Doc], None]]:
    """A random field of the saved plan, mutated; or a documented volatile one (the time, the target's name)."""
    kind = draw(st.sampled_from(["leaf", "leaf", "leaf", "volatile"]))
    if kind == "volatile":
        field = draw(st.sampled_from(["generated_at", "target.description", "target.source"]))
        if field == "generated_at":
            seconds = draw(st.integers(min_value=-3 * 86400, max_value=3 * 86400))

            def shift(doc: Doc) -> None:
                then = datetime.strptime(doc["generated_at"], "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=seconds)
                doc["generated_at"] = f"{then:%Y-%m-%dT%H:%M:%SZ}"

            return f"generated_at {seconds:+d}s", shift
        value = draw(st.text(min_size=1, max_size=12))
        return f"{field} = {value!r}", _set(tuple(field.split(".")), value)
    path = draw(st.sampled_from(_leaves(document)))
    value = _mutated(_get(document, path), draw)
    if value == _get(document, path) and type(value) is type(_get(document, path)):
        value = "changed"

    def edit(doc: Doc) -> None:
        _put(doc, path, value)

    return f"{'.'.join(map(str, path))} = {value!r}", edit


def _behaviour(result: CliResult, emulator: RunningEmulator) -> tuple[Any, ...]:
    """What an apply did, without timings: exit code, outcomes, and every request as the server saw it."""
    report = json.loads(result.out)
    outcomes = sorted((r["id"], r["outcome"], r["detail"], r["remaining_changes"]) for r in report["instances"])
    sent = sorted(
        (c["instance_id"], c["outcome"], c["param_names"], json.dumps(c["params"], sort_keys=True))
        for c in modifies(emulator)
    )
    return result.code, outcomes, sent


@settings(
    max_examples=int(os.environ.get("PLANFILE_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_mutated_plan_is_refused_or_applies_exactly_as_the_original(
    data: st.DataObject, cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, tmp_path: Path
) -> None:
    plan_file = tmp_path / "reviewed.plan"

    def fresh_plan() -> Doc:
        build_world(cloud_env, spec_dir, pki)
        made = cli("plan", str(spec_dir), "--out", str(plan_file))
        assert made.code == 0, made.text
        cloud_env.admin.clear_calls()
        return json.loads(plan_file.read_text(encoding="utf-8"))

    document = fresh_plan()
    label, edit = data.draw(mutations(document), label="mutation")
    mutated = copy.deepcopy(document)
    edit(mutated)
    plan_file.write_text(json.dumps(mutated, indent=2), encoding="utf-8")
    result = apply_file(cli, plan_file, tmp_path, "--format", "json")
    # A refusal is an "Error:" line (after any progress line, e.g. where the specs were read from).
    if result.code == 1 and any(line.startswith("Error: ") for line in result.err.splitlines()):
        assert modifies(cloud_env) == [], label
        assert "Internal error" not in result.err, label
        event("refused")
        return
    event("applied")
    assert "Internal error" not in result.text, (label, result.text)
    mutated_behaviour = _behaviour(result, cloud_env)
    fresh_plan()
    original = apply_file(cli, plan_file, tmp_path, "--format", "json")
    assert _behaviour(original, cloud_env) == mutated_behaviour, label

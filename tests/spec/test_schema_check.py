"""The compiled schema check may only ever let a value skip jsonschema when jsonschema would accept it.

:mod:`rdsssl_reconcile.spec.schema_check` puts fastjsonschema (draft 7) in front of jsonschema (2020-12)
for the spec schemas. These tests pin the two facts that make that safe: the spec schemas use only
keywords that mean the same in both drafts (so the fast path is really taken), and on valid specs and
on thousands of mutations of them the compiled validator accepts nothing that jsonschema refuses.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.spec import loader
from rdsssl_reconcile.spec import schema as spec_schema
from rdsssl_reconcile.spec.schema_check import COMPILE_AFTER, SchemaCheck, compilable

VALID_INSTANCES: list[dict[str, Any]] = [
    {"id": "pgm-aaa", "region": "cn-hangzhou", "ssl": {"enabled": False}},
    {
        "id": "pgm-bbb",
        "region": "cn-hangzhou",
        "description": "cloud certificate",
        "labels": {"team": "payments", "tier": "gold"},
        "ssl": {"enabled": True, "endpoints": ["pgm-bbb.pg.rds.aliyuncs.com"], "certificate": {"source": "aliyun"}},
        "policy": {"restart": "window", "window": "sat,sun 01:00-05:00", "renew_before_days": 14},
    },
    {
        "id": "pgm-ccc",
        "region": "ap-southeast-1",
        "ssl": {
            "enabled": True,
            "endpoints": ["db.example.com", "pgm-ccc.pg.rds.aliyuncs.com"],
            "certificate": {"source": "custom", "cert": {"file": "c.pem"}, "key": {"env": "KEY_PEM"}},
            "client_ca": {"cert": {"pem": "x"}, "crl": {"file": "crl.pem"}, "acl": "verify-full"},
        },
        "policy": {"restart": "never"},
    },
    {
        "id": "pgm-ddd",
        "region": "eu-central-1",
        "ssl": {
            "enabled": True,
            "endpoints": ["db.internal"],
            "certificate": {
                "source": "issuer",
                "ca_cert": {"file": "ca.pem"},
                "ca_key": {"file": "ca.key"},
                "validity_days": 90,
                "key_type": "ec-p256",
                "renew_before_days": 30,
            },
            "client_ca": {"cert": {"file": "client-ca.pem"}, "acl": "cert", "replication_acl": "prefer"},
        },
    },
]

#: Replacement values: every JSON type, and the edge cases where two implementations could differ.
ODD_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    3650,
    3651,
    10**20,
    "",
    "x",
    "pgm-abc",
    "pgm-abc\n",
    "cn-hangzhou\n",
    "02:00-04:00",
    "aliyun",
    "custom",
    "issuer",
    "window",
    "cert",
    [],
    ["a.example.com"],
    ["a.example.com", "a.example.com"],
    [1, True],
    {},
    {"file": "x"},
    {"file": ""},
    {"env": "1BAD"},
    {"pem": "x", "file": "y"},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(instance: dict[str, Any], path: tuple[Any, ...], how: str, replacement: Any) -> Any:
    mutated = copy.deepcopy(instance)
    if not path:
        return replacement if how == "replace" else mutated
    parent: Any = mutated
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "replace":
        parent[last] = replacement
    elif how == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent["unexpected_key"] = replacement
    else:
        parent.append(replacement)
    return mutated


def _mutations(data: st.DataObject, valid: dict[str, Any]) -> Any:
    """``valid`` after one to three drawn edits: a value replaced, a key deleted, a key or item added."""
    value: Any = valid
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        if not isinstance(value, dict):
            break
        path = data.draw(st.sampled_from(_paths(value)))
        how = data.draw(st.sampled_from(["replace", "delete", "add"] if path else ["replace", "add"]))
        value = _mutate(value, path, how, data.draw(st.sampled_from(ODD_VALUES)))
    return value


@pytest.fixture(scope="module")
def compiled_instance_check() -> SchemaCheck:
    check = SchemaCheck(spec_schema.INSTANCE_SCHEMA)
    for _ in range(COMPILE_AFTER + 1):
        check.is_valid_fast({})
    assert check.compiled
    return check


def test_the_spec_schemas_are_compiled_so_the_fast_path_is_really_taken() -> None:
    assert compilable(spec_schema.INSTANCE_SCHEMA)
    assert compilable(loader._FILE_SCHEMA)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
        {"type": "array", "prefixItems": [{"type": "string"}]},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "object", "unevaluatedProperties": False},
        {"type": "object", "properties": {"a": {"dependentRequired": {"a": ["b"]}}}},
    ],
)
def test_a_schema_whose_meaning_changed_after_draft_7_is_never_compiled(schema: dict[str, Any]) -> None:
    check = SchemaCheck(schema)
    for _ in range(COMPILE_AFTER + 5):
        assert not check.is_valid_fast([])
    assert not compilable(schema)
    assert not check.compiled


def test_few_values_are_checked_by_jsonschema_alone() -> None:
    check = SchemaCheck(spec_schema.INSTANCE_SCHEMA)
    for _ in range(COMPILE_AFTER):
        assert not check.is_valid_fast(VALID_INSTANCES[0])
    assert not check.compiled
    assert check.is_valid_fast(VALID_INSTANCES[0])
    assert check.compiled


@pytest.mark.parametrize("instance", VALID_INSTANCES, ids=[i["id"] for i in VALID_INSTANCES])
def test_valid_instances_pass_both(compiled_instance_check: SchemaCheck, instance: dict[str, Any]) -> None:
    assert list(compiled_instance_check.reference.iter_errors(instance)) == []
    assert compiled_instance_check.is_valid_fast(instance)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_compiled_check_accepts_nothing_jsonschema_refuses(
    compiled_instance_check: SchemaCheck, data: st.DataObject
) -> None:
    value = _mutations(data, data.draw(st.sampled_from(VALID_INSTANCES)))
    reference_accepts = not list(compiled_instance_check.reference.iter_errors(value))
    # The one direction that matters: a value the compiled check accepts skips jsonschema, so jsonschema
    # must accept it too. The other direction only costs time (fastjsonschema reads a pattern's `$` as
    # the end of the text, Python's `re` also before a final newline: jsonschema accepts "pgm-abc\n").
    if compiled_instance_check.is_valid_fast(value):
        assert reference_accepts, value


def test_a_fleet_gets_the_same_located_errors_as_a_small_spec(tmp_path: Path) -> None:
    """Past the compile threshold an invalid instance is still explained by jsonschema, line and key path."""
    lines = ["instances:"]
    for index in range(COMPILE_AFTER + 50):
        lines += [f"  - id: pgm-fleet{index:04d}", "    region: cn-hangzhou", "    ssl: {enabled: false}"]
    lines += ["  - id: pgm-broken", "    region: cn-hangzhou", "    ssl: {enabled: true, endpoints: []}"]
    spec = tmp_path / "fleet.yaml"
    spec.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpecError) as raised:
        loader.load_specs([spec], now=datetime(2026, 12, 1, tzinfo=UTC))
    text = str(raised.value)
    broken_line = len(lines)
    assert f"fleet.yaml:{broken_line}" in text
    assert "instances[150].ssl" in text
    assert "pgm-fleet" not in text


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"x": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/x", "minLength": 2}}},
        {"properties": {"a": {"$ref": "https://example.com/x.json"}}},
        {"properties": {"a": {"$ref": "#/properties/b"}}},
    ],
)
def test_a_reference_that_draft_7_reads_differently_is_never_compiled(schema: dict[str, Any]) -> None:
    assert not compilable(schema)


def test_a_reference_alone_into_defs_is_compiled_and_checked() -> None:
    schema = {
        "$defs": {"name": {"type": "string", "minLength": 2}, "type": {"enum": ["a"]}},
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/name"}, "type": {"$ref": "#/$defs/type"}},
    }
    assert compilable(schema)  # "type" and "name" under $defs are names, not keywords
    check = SchemaCheck(schema)
    assert check.is_valid_fast({"n": "ok"}, weight=COMPILE_AFTER + 1)  # compiled now, and then checked
    assert check.compiled
    assert check.is_valid_fast({"n": "ok", "type": "a"})
    assert not check.is_valid_fast({"n": "x"})
    assert not check.is_valid_fast({"type": "b"})


@pytest.fixture(scope="module")
def saved_plan(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from dataclasses import replace

    from rdsssl_reconcile.planfile import saved_plan_document, schema_problems
    from tests.planning.harness import CASES, run_case

    run = run_case(sorted(CASES.glob("*.yaml"))[0], tmp_path_factory.mktemp("case"))
    target = {"kind": "emulator", "endpoint": "http://127.0.0.1:9", "source": "--endpoint", "description": "t"}
    document = saved_plan_document(replace(run.plan, target=target), run.desired, origin={"directory": "/x"})
    document = json.loads(json.dumps(document))
    assert schema_problems(document) == []
    return document


@pytest.fixture(scope="module")
def compiled_plan_check() -> SchemaCheck:
    from rdsssl_reconcile.planfile import plan_schema

    check = SchemaCheck(plan_schema())
    check.is_valid_fast({}, weight=COMPILE_AFTER + 1)
    assert check.compiled
    return check


def test_the_saved_plan_schema_is_compiled(compiled_plan_check: SchemaCheck, saved_plan: dict[str, Any]) -> None:
    assert compiled_plan_check.is_valid_fast(saved_plan)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_compiled_plan_check_accepts_nothing_jsonschema_refuses(
    compiled_plan_check: SchemaCheck, saved_plan: dict[str, Any], data: st.DataObject
) -> None:
    value = _mutations(data, saved_plan)
    if compiled_plan_check.is_valid_fast(value):
        assert not list(compiled_plan_check.reference.iter_errors(value)), value

"""Saved plans (``plan --out FILE``): the reviewed artifact that ``apply PLANFILE`` carries out.

A saved plan is the JSON plan plus what apply needs to refuse a stale one: the spec paths (to load the
desired state again), each instance's live-state fingerprint and desired-state digest, and the digest
of the request that was shown. It holds references to secrets (``{file: ...}``, ``{env: ...}``) and
public fingerprints, never secret values, so it can be attached to a pull request.

It also records where it was made (``origin``: the absolute directory, and that directory as seen from
the plan file), so that ``apply PLANFILE`` finds the specs from any directory (:func:`locate_specs`),
and it can be turned back into the :class:`~rdsssl_reconcile.planning.model.Plan` it was written from
(:func:`plan_from_document`), so that ``show PLANFILE`` renders exactly what was saved.

Reading one is defensive: the file came back from a reviewer, a CI artifact store or an attacker, so
every way it can be malformed (not UTF-8, not JSON, nested without end, huge, a value of the wrong
type) is a located error ("plan.json: instances[0]: missing 'id'"), checked against the committed
schema ``planfile.schema.json`` before any value is used.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

import jsonschema

from rdsssl_reconcile import __version__
from rdsssl_reconcile.errors import PlanFileError
from rdsssl_reconcile.live.model import ReadError
from rdsssl_reconcile.planning.compare import differences, path_label, render_value
from rdsssl_reconcile.planning.model import (
    PLAN_FORMAT_VERSION,
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
from rdsssl_reconcile.planning.rules import Restart
from rdsssl_reconcile.render.plan_json import plan_json_chunks
from rdsssl_reconcile.secretfiles import replace_atomically
from rdsssl_reconcile.spec.model import DesiredInstance, desired_to_json
from rdsssl_reconcile.spec.schema_check import SchemaCheck
from rdsssl_reconcile.textsafe import listing, visible

KIND = "rdsssl-reconcile/saved-plan"
GENERATED_AT_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"

#: A plan of 10,000 instances is about 50 MB; anything larger is not a plan this tool wrote.
MAX_BYTES: Final = 64 * 1024 * 1024
#: A saved plan nests about 8 levels deep; far deeper is not a plan, and would exhaust the parser.
MAX_DEPTH: Final = 64
#: Schema problems listed in one error (the first ones, in document order).
MAX_PROBLEMS: Final = 5


#: Top-level keys a saved plan has beyond the JSON plan (``plan --format json``).
SAVED_ONLY_KEYS: Final = ("kind", "desired", "origin")


def saved_plan_document(
    plan: Plan, desired: tuple[DesiredInstance, ...], *, origin: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    document = plan_to_json(plan, tool_version=__version__)
    document["kind"] = KIND
    document["desired"] = {item.id: desired_to_json(item) for item in desired}
    if origin is not None:
        document["origin"] = dict(origin)
    return document


def origin_of(plan_path: Path, directory: Path) -> dict[str, str]:
    """Where a plan saved at ``plan_path`` was made: ``directory`` (absolute) and as seen from the file.

    Both are recorded because a plan travels two ways: on the same machine (or a CI runner with the same
    checkout path) the absolute directory is right; in a copy of the repository elsewhere, a plan file
    that kept its place in the tree finds the specs through the relative path.
    """
    here = os.path.realpath(directory)
    return {
        "directory": here,
        "from_plan_file": os.path.relpath(here, os.path.dirname(os.path.realpath(plan_path))),
    }


def saved_plan_chunks(
    plan: Plan,
    desired: tuple[DesiredInstance, ...],
    *,
    origin: Mapping[str, Any],
    rendered: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """``json.dumps(saved_plan_document(...), indent=2) + "\\n"`` in pieces, instance by instance.

    One ``json.dumps`` of a 10,000-instance saved plan peaked at 385 MB (the indenting encoder's millions
    of small strings); in pieces the file is written as they come. ``rendered``: instances' JSON already
    made by :func:`~rdsssl_reconcile.render.plan_json.instance_text` (plan makes them during its reads).
    """
    trailer = {"kind": KIND, "desired": {item.id: desired_to_json(item) for item in desired}, "origin": dict(origin)}
    return plan_json_chunks(plan, tool_version=__version__, rendered=rendered, trailer=trailer)


def write_plan(
    path: Path,
    plan: Plan,
    desired: tuple[DesiredInstance, ...],
    *,
    selection: Mapping[str, Any] | None = None,
    rendered: Mapping[str, str] | None = None,
) -> None:
    """Write atomically, so an interrupted run never leaves half a plan that apply could read.

    The atomic rename replaces whatever has the name: a device or a FIFO given as the file (as root,
    ``/dev/null``) would be replaced by a regular file, so anything but a regular file is refused.
    """
    try:
        existing: os.stat_result | None = path.stat()
    except FileNotFoundError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        raise PlanFileError(f"{visible(str(path))}: not a regular file; a saved plan is written as a regular file")
    origin: dict[str, Any] = origin_of(path, Path.cwd())
    if selection:
        origin["selection"] = dict(selection)  # --region / --select: apply PLANFILE selects the same instances
    replace_atomically(path, saved_plan_chunks(plan, desired, origin=origin, rendered=rendered))


def generated_at(document: dict[str, Any]) -> datetime:
    """The plan's time (validated by :func:`read_plan`)."""
    return datetime.strptime(document["generated_at"], GENERATED_AT_FORMAT).replace(tzinfo=UTC)


def read_plan(path: Path) -> dict[str, Any]:
    """The saved plan at ``path``, checked against the schema; a :class:`PlanFileError` otherwise."""
    where = visible(str(path))
    document = parse_plan(_read_bytes(path, where), where)
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise PlanFileError(f"{where}: not a plan saved by 'rdsssl-reconcile plan --out'")
    version = document.get("format_version")
    if not isinstance(version, str) or version.split(".")[0] != PLAN_FORMAT_VERSION.split(".")[0]:
        major = version.split(".")[0] if isinstance(version, str) else ""
        older = major.isdigit() and int(major) < int(PLAN_FORMAT_VERSION.split(".")[0])
        why = (
            "it was saved by an older rdsssl-reconcile; make the plan again with this version ('plan --out')"
            if older
            else "it was saved by another rdsssl-reconcile; apply it with that version, or make the plan again"
        )
        raise PlanFileError(
            f"{where}: format_version: plan format {render_value(version)} is not supported by this version "
            f"(expects {PLAN_FORMAT_VERSION}): {why}; nothing was read or changed"
        )
    problems = schema_problems(document)
    if problems:
        more = f" (and {len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        raise PlanFileError(f"{where}: not a valid saved plan: " + "; ".join(problems[:MAX_PROBLEMS]) + more)
    return document


def _read_bytes(path: Path, where: str) -> bytes:
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # before opening: opening a FIFO waits for a writer
            raise PlanFileError(f"{where}: not a regular file")
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise PlanFileError(f"{where}: not a regular file")
            if info.st_size > MAX_BYTES:
                raise PlanFileError(
                    f"{where}: {_size(info.st_size)} is more than a plan file may be ({_size(MAX_BYTES)})"
                )
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PlanFileError(f"{where}: no such plan file") from None
    except OSError as exc:
        raise PlanFileError(f"{where}: cannot read the plan file: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_BYTES:  # it grew while being read
        raise PlanFileError(f"{where}: more than a plan file may be ({_size(MAX_BYTES)})")
    return data


def _size(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB"


# -- JSON ------------------------------------------------------------------------------------------------


class _Bad:
    """A value the JSON parser met that a plan never holds (NaN, 1e999, a 5,000-digit number)."""

    def __init__(self, text: str, why: str) -> None:
        self.text, self.why = text, why


class _Object(dict[str, Any]):
    """A JSON object that remembers keys written twice (a reviewer sees one, a parser keeps the other)."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    result = _Object()
    duplicates = []
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    result.duplicates = tuple(duplicates)
    return result


def _number(text: str) -> Any:
    try:
        value: Any = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return _Bad(text[:20] + ("…" if len(text) > 20 else ""), "a number too long to read")
    if isinstance(value, float) and not math.isfinite(value):
        return _Bad(text[:20], "a number out of range")
    return value


def _constant(text: str) -> _Bad:
    return _Bad(text, "not a JSON value (NaN and infinities are not JSON)")


def parse_plan(data: bytes, where: str) -> Any:
    """Bytes -> JSON, every failure located (byte/line/column or JSON path)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data[: exc.start].decode("utf-8", "replace"), exc.start)
        raise PlanFileError(
            f"{where}: line {line}, column {column} (byte {exc.start}): not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x}); a saved plan is UTF-8 JSON"
        ) from None
    try:
        document = json.loads(
            text, object_pairs_hook=_object, parse_float=_number, parse_int=_number, parse_constant=_constant
        )
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{where}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        line, column = _too_deep(text)
        raise PlanFileError(
            f"{where}: line {line}, column {column}: JSON nested more than {MAX_DEPTH} levels deep; "
            "a saved plan nests about 8"
        ) from None
    _check_values(document, where)
    return document


def _line_column(prefix: str, offset: int) -> tuple[int, int]:
    line = prefix.count("\n") + 1
    return line, len(prefix) - (prefix.rfind("\n") + 1) + 1


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _too_deep(text: str) -> tuple[int, int]:
    """Where nesting first passes :data:`MAX_DEPTH` (strings skipped), as line and column."""
    depth = 0
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return _line_column(text[: match.start()], match.start())
        elif char in "]}":
            depth -= 1
    return 1, 1


def _walk(document: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every value with its JSON path, iteratively (no recursion limit to exhaust)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        yield path, value
        if isinstance(value, dict):
            stack.extend(((*path, k), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(value))))


def _check_values(document: Any, where: str) -> None:
    for path, value in _walk(document):
        if len(path) > MAX_DEPTH:
            raise PlanFileError(
                f"{where}: {json_path(path[:MAX_DEPTH])}: nested more than {MAX_DEPTH} levels deep; "
                "a saved plan nests about 8"
            )
        if isinstance(value, _Bad):
            raise PlanFileError(f"{where}: {json_path(path)}: {visible(value.text)} is {value.why}")
        if isinstance(value, _Object) and value.duplicates:
            key = value.duplicates[0]
            raise PlanFileError(
                f"{where}: {json_path((*path, key))}: the key is written twice; a reviewer reads one value "
                "and a JSON parser keeps the other"
            )


def json_path(path: tuple[str | int, ...]) -> str:
    """``instances[0].changes``; the top level is ``(top level)``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else ("." if out else "") + visible(step)
    return out or "(top level)"


# -- schema ----------------------------------------------------------------------------------------------


@cache
def plan_schema() -> dict[str, Any]:
    """The committed JSON Schema of saved plans (``rdsssl_reconcile/planfile.schema.json``)."""
    text = resources.files("rdsssl_reconcile").joinpath("planfile.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_TYPE_WORDS: Final = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "object": "an object",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _found(value: Any) -> str:
    kind = _TYPE_WORDS[_json_type(value)]
    if isinstance(value, dict | list):
        return kind if value else f"{kind} (empty)"
    return f"{kind} ({render_value(value)})"


def _translate(error: jsonschema.ValidationError) -> str:
    path = tuple(error.absolute_path)
    at = json_path(path)
    value = error.instance
    expected: Any = error.validator_value
    match error.validator:
        case "required":
            missing = [k for k in expected if not isinstance(value, dict) or k not in value]
            return f"{at}: missing {', '.join(repr(k) for k in missing)}"
        case "type":
            wanted = expected if isinstance(expected, list) else [expected]
            return f"{at}: expected {' or '.join(_TYPE_WORDS[t] for t in wanted)}, found {_found(value)}"
        case "enum":
            shown = ", ".join("null" if v is None else str(v) for v in expected)
            return f"{at}: expected one of {shown}, found {_found(value)}"
        case "const":
            return f"{at}: expected {expected}, found {_found(value)}"
        case "pattern" if path == ("generated_at",):
            return f"{at}: expected a UTC time such as 2026-11-27T18:22:30Z, found {_found(value)}"
        case "minimum" | "maximum":
            bound = "at least" if error.validator == "minimum" else "at most"
            return f"{at}: expected {bound} {expected}, found {_found(value)}"
        case "minLength":
            return f"{at}: expected a non-empty text, found {_found(value)}"
        case "maxLength" | "maxItems":
            return f"{at}: longer than a saved plan holds (at most {expected})"
        case _:
            return f"{at}: does not match the saved-plan schema ({error.validator}), found {_found(value)}"


@cache
def _plan_schema_check() -> SchemaCheck:
    """The saved-plan schema, compiled once a plan with enough instances is read (10,000: 3.6 s -> 0.4 s)."""
    return SchemaCheck(plan_schema())


def schema_problems(document: Any) -> list[str]:
    """Located, plain-words schema problems of ``document``, in document order (empty: valid)."""
    instances = document.get("instances") if isinstance(document, dict) else None
    weight = len(instances) if isinstance(instances, list) else 1
    errors = sorted(
        _plan_schema_check().iter_errors(document, weight=max(1, weight)),
        key=lambda e: [(0, str(p)) if isinstance(p, str) else (1, f"{p:09d}") for p in e.absolute_path],
    )
    problems = [_translate(e) for e in errors]
    if not problems:
        problems = _semantic_problems(document)
    return list(dict.fromkeys(problems))


def _semantic_problems(document: dict[str, Any]) -> list[str]:
    """What a schema cannot say: unique instance ids, a real calendar time."""
    problems = []
    try:
        generated_at(document)
    except ValueError:
        problems.append(f"generated_at: {render_value(document['generated_at'])} is not a real UTC time")
    seen: dict[str, int] = {}
    for index, item in enumerate(document["instances"]):
        deferral = item["deferral"]
        for key in ("closes_at", "next_opening"):
            value = deferral.get(key) if isinstance(deferral, dict) else None
            try:
                _time(value)
            except ValueError:
                problems.append(f"instances[{index}].deferral.{key}: {render_value(value)} is not a real UTC time")
        if item["id"] in seen:
            problems.append(f"instances[{index}].id: {visible(item['id'])} is already instances[{seen[item['id']]}]")
        seen.setdefault(item["id"], index)
    return problems


# -- where the specs are ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecLocation:
    """The directory ``apply PLANFILE`` works in, so that the spec paths mean what they meant at plan time.

    ``how`` says why this directory was chosen, for the line apply prints when it is not the current one.
    """

    directory: Path
    how: str


def locate_specs(document: Mapping[str, Any], plan_path: Path, cwd: Path, where: str) -> SpecLocation:
    """The first of these where every spec path of the plan exists, or a :class:`PlanFileError` naming each.

    1. the directory the plan was made in (``origin.directory``);
    2. that directory as seen from the plan file (``origin.from_plan_file``): the plan kept its place in
       a copy of the repository elsewhere;
    3. the current directory (a plan without ``origin``, or a checkout elsewhere run from its root).

    Relative spec paths are taken relative to it, and apply runs from it, so that every text that names a
    spec file (``spec: specs/a.yaml:3``, the target's ``specs/_target.yaml``) is the one that was reviewed.
    """
    spec_paths = [Path(p) for p in document.get("spec_paths") or ["specs"]]
    origin = document.get("origin")
    candidates: list[tuple[Path, str]] = []
    if isinstance(origin, Mapping):
        made_in = origin.get("directory")
        if isinstance(made_in, str) and os.path.isabs(made_in):
            candidates.append((Path(made_in), "the directory the plan was made in"))
        relative = origin.get("from_plan_file")
        if isinstance(relative, str) and relative:
            beside = Path(os.path.normpath(Path(os.path.realpath(plan_path)).parent / relative))
            candidates.append((beside, "relative to the plan file, as when it was saved"))
    candidates.append((cwd, "the current directory"))
    looked: list[str] = []
    seen: set[Path] = set()
    for directory, how in candidates:
        if directory in seen:
            continue
        seen.add(directory)
        missing = next((p for p in spec_paths if not (directory / p).exists()), None)
        if missing is None:
            return SpecLocation(directory=directory, how=how)
        looked.append(f"{directory / missing} ({how}): no such file or directory")
    shown = ", ".join(str(p) for p in spec_paths)
    made = ""
    if isinstance(origin, Mapping) and isinstance(origin.get("directory"), str):
        made = f" in {origin['directory']}"
    header = (
        f"{where}: cannot find the specs this plan was made from (spec paths: {shown}; made{made}), so it "
        "cannot be checked or applied; nothing was changed. Looked for:"
    )
    hint = (
        f"Run apply from the directory the plan was made in (the repository root, where {spec_paths[0]} is), "
        "or keep the plan file where 'plan --out' saved it relative to the specs."
    )
    raise PlanFileError(listing(header, looked) + "\n" + hint)


# -- the Plan a file holds -------------------------------------------------------------------------------


def plan_from_document(document: Mapping[str, Any], where: str) -> Plan:
    """The :class:`Plan` the file was written from (the inverse of ``plan_to_json``), proven exact.

    ``document`` has passed :func:`read_plan`. The plan is rebuilt from the file's values, then written
    again; if that differs from the file in any field (the file was edited, say a summary that does not
    count its instances, or it was written by a version whose rule texts differ), what a renderer would
    show is not what the file says, so a :class:`PlanFileError` names the differences instead.
    """
    plan = Plan(
        instances=tuple(_instance(item) for item in document["instances"]),
        target=dict(document["target"]),
        generated_at=generated_at(dict(document)),
        spec_paths=tuple(document["spec_paths"]),
        spec_warnings=tuple(document["spec_warnings"]),
        allow_restart=tuple(document["allow_restart"]),
    )
    in_file = {k: v for k, v in document.items() if k not in SAVED_ONLY_KEYS}
    again = plan_to_json(plan, tool_version=document["tool_version"])
    found = list(differences(in_file, again))
    if found:
        lines = [
            f"{path_label(d.path, in_file)}: the file says {render_value(d.in_file)}; "
            f"the plan it describes says {render_value(d.in_plan)}"
            for d in found[:MAX_PROBLEMS]
        ]
        more = [f"and {len(found) - MAX_PROBLEMS} more differences"] if len(found) > MAX_PROBLEMS else []
        raise PlanFileError(
            listing(
                f"{where}: cannot be shown exactly as saved: the file is not what rdsssl-reconcile {__version__} "
                f"writes for the plan it describes (edited, or saved by version "
                f"{render_value(document['tool_version'])}); apply would refuse it too:",
                [*lines, *more],
            )
        )
    return plan


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, GENERATED_AT_FORMAT).replace(tzinfo=UTC)


def deferral_from_json(value: Mapping[str, Any] | None) -> Deferral | None:
    """A plan's ``deferral`` object (schema-checked) as the model's :class:`Deferral`."""
    if value is None:
        return None
    return Deferral(
        reason=DeferralReason(value["reason"]),
        policy=value["policy"],
        estimated_seconds=value["estimated_seconds"],
        window=value["window"],
        closes_at=_time(value["closes_at"]),
        next_opening=_time(value["next_opening"]),
    )


def action_from_json(value: str | None) -> Action | None:
    return None if value is None else Action(value)


def _instance(item: Mapping[str, Any]) -> InstancePlan:
    status = PlanStatus(item["status"])
    detail = item["restart_detail"]
    unplannable = status in (PlanStatus.ERROR, PlanStatus.NOT_FOUND)  # their "restart" is always "unknown"
    request = item["request"]
    error = item["error"]
    return InstancePlan(
        id=item["id"],
        region=item["region"],
        description=item["description"],
        status=status,
        reasons=tuple(item["reasons"]),
        changes=tuple(
            FieldChange(
                field=c["field"], before=c["before_text"], after=c["after_text"], rule_id=c["rule"], reason=c["reason"]
            )
            for c in item["changes"]
        ),
        request=None
        if request is None
        else PlannedRequest(
            parameters=tuple(
                RequestParameter(
                    name=p["name"],
                    display=p["value"],
                    sensitive=p["sensitive"],
                    known_after_apply=p["known_after_apply"],
                )
                for p in request["parameters"]
            ),
            action=request["action"],
        ),
        restart=RestartAssessment(
            restart=Restart.NOT_REQUIRED if unplannable else Restart(item["restart"]),
            triggers=tuple(detail["triggers"]),
            rule_ids=tuple(r["id"] for r in detail["rules"]),
            estimated_seconds=detail["estimated_seconds"],
        ),
        warnings=tuple(item["warnings"]),
        notes=tuple(item["notes"]),
        policy=PlannedPolicy(
            mode=item["policy"]["mode"],
            window=item["policy"]["window"],
            renew_before_days=item["policy"]["renew_before_days"],
        ),
        spec_location=item["spec"],
        live_fingerprint=item["live_fingerprint"],
        desired_digest=item["desired_digest"],
        error=None
        if error is None
        else ReadError(
            action=error["action"], code=error["code"], message=error["message"], request_id=error["request_id"]
        ),
        live=item["live"],
        action=action_from_json(item["action"]),
        deferral=deferral_from_json(item["deferral"]),
    )

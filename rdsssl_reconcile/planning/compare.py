"""Compare a saved plan with the plan rebuilt from today's specs and live state, field by field.

Pure: two JSON documents in, plain-words differences out. ``apply PLANFILE`` refuses the file unless
everything a reviewer could have read in it is what apply would do, so the comparison is over whole
documents, not a chosen list of fields: a field added to the plan format later is compared without
anyone remembering to. Only the documented volatile fields (:func:`without_volatile`) are left out.

Differences are named the way a reviewer reads them ("pgm-a: the file says policy.mode: never; the spec
now says allowed"; "pgm-b: the plan was made when ssl.enabled was false; the instance now
says true"), causes first (the spec, the live state), then what the plan says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from rdsssl_reconcile.textsafe import visible

#: Longest value quoted in a message; the rest is elided (a certificate chain is not a message).
VALUE_CHARS: Final = 160

#: Instance fields whose values come from the spec, not from the planner's reasoning.
SPEC_FIELDS: Final = frozenset({"policy", "spec", "description", "region", "desired_digest"})

#: What apply decides for an instance; if the real now decides differently from the plan's time, the
#: reviewed plan no longer describes what apply would do (a certificate became due for renewal).
#: Not :data:`POLICY_FIELDS`: see there.
DECISION_FIELDS: Final = (
    "status",
    "changes",
    "request",
    "restart",
    "restart_detail",
    "policy",
    "desired_digest",
    "live_fingerprint",
)


#: The policy's now-or-deferred decision. Compared in the saved file (an edit is refused), but not between
#: the plan's time and now: time moving past a window is expected, not a stale plan. Apply carries out
#: the reviewed decisions and decides again right before each request: a restart the plan runs now that
#: the policy defers by then is reported ``deferred`` in plain words, and a deferred one never runs.
POLICY_FIELDS: Final = ("action", "deferral")


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Final = _Missing()

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Difference:
    """One field whose value in the saved file (``in_file``) is not the rebuilt plan's (``in_plan``)."""

    path: JsonPath
    in_file: Any
    in_plan: Any


def without_volatile(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without the fields that may differ between two plans of the same world.

    ``generated_at`` (the comparison plan is rebuilt *as of* it, see docs/plan-format.md), and the parts
    of ``target`` that name the same target differently: its ``description``, and ``source`` (how it was
    chosen, ``--endpoint`` or ``RDSSSL_ENDPOINT``); for the embedded emulator, whose port is new each run,
    ``endpoint`` instead of ``source``. The target's kind and address (or, embedded, the file that starts
    it) are compared. An unreadable instance's ``error.request_id`` names one API call, new each read.
    Everything else is compared.
    """
    copy = dict(document)
    copy.pop("generated_at", None)
    target = copy.get("target")
    if isinstance(target, Mapping):
        embedded = target.get("kind") == "embedded-emulator"
        volatile = ("description", "endpoint") if embedded else ("description", "source")
        copy["target"] = {k: v for k, v in target.items() if k not in volatile}
    instances = copy.get("instances")
    if isinstance(instances, list):
        copy["instances"] = [_without_request_id(item) for item in instances]
    return copy


def _without_request_id(item: Any) -> Any:
    error = item.get("error") if isinstance(item, Mapping) else None
    if not isinstance(error, Mapping):
        return item
    return {**item, "error": {k: v for k, v in error.items() if k != "request_id"}}


def differences(in_file: Any, in_plan: Any, path: JsonPath = ()) -> Iterator[Difference]:
    """Every leaf that differs, in the file's order (then what only the plan has).

    The ``instances`` list is matched by instance id, so one missing instance is one difference, not a
    shift of every one after it; other lists are matched by position.
    """
    if isinstance(in_file, Mapping) and isinstance(in_plan, Mapping):
        for key, value in in_file.items():
            yield from differences(value, in_plan.get(key, MISSING), (*path, key))
        for key, value in in_plan.items():
            if key not in in_file:
                yield Difference((*path, key), MISSING, value)
        return
    if isinstance(in_file, list) and isinstance(in_plan, list):
        if path == ("instances",):
            yield from _instances_differences(in_file, in_plan)
            return
        for index in range(max(len(in_file), len(in_plan))):
            yield from differences(
                in_file[index] if index < len(in_file) else MISSING,
                in_plan[index] if index < len(in_plan) else MISSING,
                (*path, index),
            )
        return
    if not _same(in_file, in_plan):
        yield Difference(path, in_file, in_plan)


def _same(a: Any, b: Any) -> bool:
    # JSON types, exactly: true is not 1, 1.0 is not 1 (the file holds what the plan wrote).
    return type(a) is type(b) and a == b


def _instances_differences(in_file: list[Any], in_plan: list[Any]) -> Iterator[Difference]:
    plan_by_id = {item.get("id"): (index, item) for index, item in enumerate(in_plan) if isinstance(item, Mapping)}
    file_ids = [item.get("id") if isinstance(item, Mapping) else None for item in in_file]
    for index, item in enumerate(in_file):
        found = plan_by_id.get(file_ids[index])
        if found is None:
            yield Difference(("instances", index), item, MISSING)
            continue
        yield from differences(item, found[1], ("instances", index))
    in_file_ids = set(file_ids)  # membership in a set: a list made this quadratic at fleet scale
    for _index, item in plan_by_id.values():
        if item.get("id") not in in_file_ids:
            yield Difference(("instances", len(in_file)), MISSING, item)
    common_file = [i for i in file_ids if i in plan_by_id]
    common_plan = [item.get("id") for item in in_plan if isinstance(item, Mapping) and item.get("id") in in_file_ids]
    if common_file != common_plan:
        yield Difference(("instances",), common_file, common_plan)


def decision_differences(then: Mapping[str, Any], now: Mapping[str, Any]) -> Iterator[Difference]:
    """What apply would decide differently now than at the plan's time, for one instance (plan JSON).

    Texts that only say how long is left ("expires in 364 days") are not decisions; which fields
    change, to what, with which request and restart, are.
    """
    for key in DECISION_FIELDS:
        before, after = then.get(key, MISSING), now.get(key, MISSING)
        if key == "changes":
            before, after = _without_reasons(before), _without_reasons(after)
        yield from differences(before, after, (key,))


def _without_reasons(changes: Any) -> Any:
    if not isinstance(changes, list):
        return changes
    return [{k: v for k, v in c.items() if k != "reason"} if isinstance(c, Mapping) else c for c in changes]


# -- words -----------------------------------------------------------------------------------------------


def render_value(value: Any) -> str:
    """A JSON value as a reviewer reads it in a message: text as text, never a Python repr."""
    if value is MISSING:
        text = "nothing"
    elif value is None:
        text = "(none)"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = visible(value) if value else '"" (empty)'
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, list) and not value:
        text = "(an empty list)"
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = ", ".join(visible(v) for v in value)
    elif isinstance(value, Mapping) and _is_certificate(value):
        text = (
            f"the certificate {visible(str(value['subject']))} (issuer {visible(str(value['issuer']))}, "
            f"expires {visible(str(value['not_after']))[:10]}, sha256 {visible(str(value['sha256']))[:23]})"
        )
    else:
        text = visible(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _is_certificate(value: Mapping[str, Any]) -> bool:
    """A certificate summary (``live.ssl.server_cert``), said as a certificate, not as JSON."""
    return all(isinstance(value.get(k), str) for k in ("subject", "issuer", "not_after", "sha256"))


def path_label(path: JsonPath, document: Any) -> str:
    """``summary.restarts``, ``request.parameters[ConnectionString].value``, ``changes[ssl.enabled].after``.

    List items are named by their ``name``/``field`` when they have one (taken from ``document``, the
    saved file), so a reviewer finds them without counting.
    """
    words: list[str] = []
    node = document
    for step in path:
        if isinstance(step, int):
            item = node[step] if isinstance(node, list) and step < len(node) else None
            name = item.get("name") or item.get("field") if isinstance(item, Mapping) else None
            words.append(f"[{visible(name)}]" if isinstance(name, str) and name else f"[{step}]")
            node = item
        else:
            words.append(("." if words else "") + visible(step))
            node = node.get(step) if isinstance(node, Mapping) else None
    return "".join(words) or "the whole document"


def _source(path: JsonPath) -> str:
    """Who now says what the plan says: the spec, the instance, or the planner."""
    if path and path[0] == "desired":
        return "the spec"
    if len(path) > 2 and path[0] == "instances":
        if path[2] == "live":
            return "the instance"
        if path[2] in SPEC_FIELDS:
            return "the spec"
    if path and path[0] in ("spec_paths", "spec_warnings"):
        return "the spec"
    return "the plan"


def describe(
    difference: Difference, in_file: Mapping[str, Any], plan: Mapping[str, Any], *, reviewed: str = "the file"
) -> str:
    """One line: ``pgm-a: the file says policy: restart never; the spec now says restart allowed``.

    ``reviewed`` names what the reviewer read: the saved file, or the plan shown before the prompt.
    """
    path = difference.path
    prefix, local, document = "", path, in_file
    if len(path) >= 2 and path[0] == "instances" and isinstance(path[1], int):
        instances = in_file.get("instances")
        item = instances[path[1]] if isinstance(instances, list) and path[1] < len(instances) else None
        if item is None or (difference.in_file is MISSING and len(path) == 2):
            # Only in the plan: name it from the plan.
            item = difference.in_plan
        instance_id = item.get("id") if isinstance(item, Mapping) else None
        prefix = f"{visible(str(instance_id))}: "
        local, document = path[2:], item
        if len(path) == 2:
            if difference.in_plan is MISSING:
                return f"{prefix}in the file, but no longer declared in the specs"
            return f"{prefix}declared in the specs, but not in the file"
    elif len(path) >= 2 and path[0] == "desired":
        prefix = f"{visible(str(path[1]))}: "
        local = ("desired", *path[2:])
        desired = in_file.get("desired")
        document = {"desired": desired.get(path[1]) if isinstance(desired, Mapping) else None}
        if len(path) == 2:
            if difference.in_plan is MISSING:
                return f"{prefix}the file has a desired state for it; the specs no longer declare it"
            return f"{prefix}the specs declare it; the file has no desired state for it"
    elif path == ("instances",):
        return (
            f"the file lists the instances as {render_value(difference.in_file)}; "
            f"the plan now lists them as {render_value(difference.in_plan)}"
        )
    label = path_label(local, document)
    source = _source(path)
    if source == "the instance" and local and local[0] == "live":
        if len(local) > 2 and isinstance(local[-1], int):
            # One endpoint more or less is said as the list it is, not as "endpoints[1]".
            local = local[:-1]
            label = path_label(local, document)
            difference = Difference(
                difference.path[:-1], _at(document, local), _at(_same_instance(plan, document), local)
            )
        return prefix + _live_moved(difference, label.removeprefix("live.").removeprefix("facts."), reviewed)
    if difference.in_file is MISSING:
        return f"{prefix}{reviewed} has no {label}; {source} now says {render_value(difference.in_plan)}"
    if difference.in_plan is MISSING:
        return f"{prefix}{reviewed} says {label}: {render_value(difference.in_file)}; {source} now has no such field"
    return (
        f"{prefix}{reviewed} says {label}: {render_value(difference.in_file)}; "
        f"{source} now says {render_value(difference.in_plan)}"
    )


def _at(document: Any, path: JsonPath) -> Any:
    node = document
    for step in path:
        found = (isinstance(step, int) and isinstance(node, list) and step < len(node)) or (
            isinstance(step, str) and isinstance(node, Mapping) and step in node
        )
        if not found:
            return MISSING
        node = node[step]
    return node


def _same_instance(plan: Mapping[str, Any], item: Any) -> Any:
    """The plan's instance with the id of ``item`` (instances are matched by id, not by position)."""
    instances = plan.get("instances")
    wanted = item.get("id") if isinstance(item, Mapping) else None
    if isinstance(instances, list):
        return next((i for i in instances if isinstance(i, Mapping) and i.get("id") == wanted), None)
    return None


def _live_moved(difference: Difference, label: str, reviewed: str) -> str:
    """``the plan was made when ssl.enabled was false; the instance now says true``.

    The live state is what the plan was made *from*, so its moves are said as such, in the instance's
    own field names (``ssl.enabled``, ``engine_version``), not as a path into the plan's JSON.
    """
    plan = "the plan" if reviewed == "the file" else reviewed
    if label == "outcome":
        return (
            f"{plan} was made when the instance read as {render_value(difference.in_file)}; "
            f"it now reads as {render_value(difference.in_plan)}"
        )
    if difference.in_file is MISSING:
        return f"{plan} was made when the instance had no {label}; it now says {render_value(difference.in_plan)}"
    if difference.in_plan is MISSING:
        return f"{plan} was made when {label} was {render_value(difference.in_file)}; the instance now has no {label}"
    return (
        f"{plan} was made when {label} was {render_value(difference.in_file)}; "
        f"the instance now says {render_value(difference.in_plan)}"
    )


def _rank(path: JsonPath) -> tuple[int, ...]:
    """Causes first: where the plan came from (target, specs), then per instance spec, live, plan."""
    top = {"target": 0, "spec_paths": 1, "desired": 2, "instances": 3, "summary": 4, "spec_warnings": 5}
    first = top.get(str(path[0]), 6) if path else 6
    if path and path[0] == "instances" and len(path) > 2:
        field = path[2]
        inner = 0 if field in SPEC_FIELDS else 1 if field in ("live", "live_fingerprint") else 2
        return (first, int(path[1]) if isinstance(path[1], int) else 0, inner)
    return (first,)


def explain(
    found: Sequence[Difference], in_file: Mapping[str, Any], plan: Mapping[str, Any], *, reviewed: str = "the file"
) -> list[str]:
    """The differences as lines: causes first, digests only when nothing more readable differs.

    When an instance's spec or live state moved, what follows from it (its changes, request, restart)
    is summed up in one line after the causes instead of field by field: the causes are the news. So
    is the summary then (it counts those instances); an edited summary with no cause is listed in full.
    """
    ordered = sorted(found, key=lambda d: _rank(d.path))  # stable: the file's order within a rank
    readable = [d for d in ordered if not _is_digest(d.path)] or ordered
    moved = {d.path[1] for d in readable if _is_cause(d.path)}
    lines: list[str] = []
    consequences: dict[Any, list[str]] = {}
    summary: list[str] = []
    for difference in readable:
        path = difference.path
        if moved and len(path) == 2 and path[0] == "summary":
            summary.append(str(path[1]))
            continue
        if len(path) > 2 and path[0] == "instances" and path[1] in moved and not _is_cause(path):
            consequences.setdefault(path[1], [])
            if str(path[2]) not in consequences[path[1]]:
                consequences[path[1]].append(str(path[2]))
            continue
        line = describe(difference, in_file, plan, reviewed=reviewed)
        if line not in lines:
            lines.append(line)
    instances = in_file.get("instances")
    for index, fields in consequences.items():
        item = instances[index] if isinstance(instances, list) and isinstance(index, int) else {}
        name = visible(str(item.get("id"))) if isinstance(item, Mapping) else str(index)
        own = [i for i, line in enumerate(lines) if line.startswith(f"{name}: ")]
        at = own[-1] + 1 if own else len(lines)
        lines.insert(at, f"{name}: so its plan now differs in {', '.join(visible(f) for f in fields)}")
    if summary:
        lines.append(f"so the summary now differs in {', '.join(visible(f) for f in summary)}")
    return lines


def instance_moves(planned: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """What moved for one instance between the plan shown to the reviewer and a fresh one (plan JSON).

    Apply asks this right before each request: the live state or the spec (the causes) and what apply
    would decide (status, changes, request, restart, policy), in the same plain words as a stale saved
    plan. Empty when the fresh plan decides exactly what was shown.
    """
    found = [
        Difference(("instances", 0, *d.path), d.in_file, d.in_plan) for d in decision_differences(planned, current)
    ]
    found += [
        Difference(("instances", 0, *d.path), d.in_file, d.in_plan)
        for d in differences(planned.get("live", MISSING), current.get("live", MISSING), ("live",))
    ]
    return explain(found, {"instances": [planned]}, {"instances": [current]}, reviewed="the plan shown")


def _is_cause(path: JsonPath) -> bool:
    return len(path) > 2 and path[0] == "instances" and (path[2] in SPEC_FIELDS or path[2] == "live")


def _is_digest(path: JsonPath) -> bool:
    return bool(path) and path[-1] in ("live_fingerprint", "desired_digest", "digest")

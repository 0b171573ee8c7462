"""The JSON plan as ``plan --format json`` prints it, written instance by instance.

The text is exactly ``json.dumps(plan_to_json(plan), indent=2)``, but built from one piece per
instance. Python's indenting JSON encoder is pure Python (the C encoder only writes compact JSON):
10,000 instances took 1.2 s of CPU after the last answer. Piece by piece, plan renders each instance
in its read worker while other reads are still in flight (:func:`instance_text`), and printing is
joining; memory stays at the pieces' size, without the millions of small strings of one big encode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from rdsssl_reconcile.planning.model import InstancePlan, Plan, plan_header_to_json

#: Instances sit two levels deep (document -> "instances" -> item): each of their lines is indented by this.
_ITEM_INDENT = "\n    "
_EMPTY_TAIL = '"instances": []\n}'


def instance_text(instance: InstancePlan) -> str:
    """One instance's part of the document, indented as it sits there (JSON strings hold no raw newline)."""
    return json.dumps(instance.to_json(), indent=2).replace("\n", _ITEM_INDENT)


def plan_json_chunks(
    plan: Plan,
    *,
    tool_version: str,
    rendered: Mapping[str, str] | None = None,
    trailer: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """The document in pieces, newline-terminated; ``rendered`` holds :func:`instance_text` of instances by id.

    ``trailer``: members after ``instances`` (a saved plan's ``kind``, ``desired`` and ``origin``), written
    as ``json.dumps`` of the whole document would write them; a mapping among them is written entry by
    entry (a saved plan's ``desired`` holds every instance's spec).
    """
    head = json.dumps({**plan_header_to_json(plan, tool_version=tool_version), "instances": []}, indent=2)
    if not head.endswith(_EMPTY_TAIL):  # the members' order is plan_header_to_json's, instances last
        raise AssertionError("the JSON plan must end with its instances")
    yield head[: -len("[]\n}")]
    if plan.instances:
        ready = rendered or {}
        for index, instance in enumerate(plan.instances):
            text = ready.get(instance.id)
            yield ("[\n    " if index == 0 else ",\n    ") + (text if text is not None else instance_text(instance))
        yield "\n  ]"
    else:
        yield "[]"
    for key, value in (trailer or {}).items():
        yield ",\n  " + json.dumps(key) + ": "
        yield from _member_chunks(value)
    yield "\n}\n"


def _member_chunks(value: Any) -> Iterator[str]:
    """A top-level member's value as ``json.dumps(document, indent=2)`` writes it (one level deep)."""
    if not isinstance(value, Mapping) or not value:
        yield json.dumps(value, indent=2).replace("\n", "\n  ")
        return
    for index, (key, item) in enumerate(value.items()):
        lead = "{\n    " if index == 0 else ",\n    "
        yield lead + json.dumps(key) + ": " + json.dumps(item, indent=2).replace("\n", _ITEM_INDENT)
    yield "\n  }"


#: Characters written at once when the document goes to a stream.
BATCH_CHARACTERS = 1 << 20


def batched(chunks: Iterable[str], size: int = BATCH_CHARACTERS) -> Iterator[str]:
    """The pieces joined into writes of about ``size`` characters (10,000 small writes cost more)."""
    batch: list[str] = []
    length = 0
    for chunk in chunks:
        batch.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(batch)
            batch, length = [], 0
    if batch:
        yield "".join(batch)

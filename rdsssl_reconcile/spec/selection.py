"""Which declared instances a run covers: ``--region R`` and ``--select KEY=GLOB``, decided once.

Why its own module: ``plan``, ``apply`` and ``drift`` all take the same selectors, and a fleet sharded
across CI jobs (one job per region or per team) is only right if every command reads the same
selection the same way. Pure: a selection and the declared instances in, the selected ones out.

The rules (docs/spec-format.md, "Selecting instances"):

* ``--region R`` (repeatable): the instance's region is one of them;
* ``--select KEY=GLOB`` (repeatable): ``KEY`` is ``id``, ``region`` or ``labels.NAME``, ``GLOB`` a
  shell-style pattern (``fnmatch``: ``*``, ``?``, ``[abc]``, matched case-sensitively); the same key
  given twice matches either pattern, different keys must all match;
* an instance without the label ``NAME`` never matches ``labels.NAME=...``.

A selection that matches nothing is an error naming it: a CI shard that silently plans zero instances
reports "in sync" for a fleet nobody looked at.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.spec.model import DesiredInstance
from rdsssl_reconcile.spec.schema import LABEL_NAME_PATTERN, REGION_PATTERN
from rdsssl_reconcile.textsafe import visible

_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
_REGION = re.compile(REGION_PATTERN)
SELECT_KEYS = ("id", "region", "labels.NAME")


@dataclass(frozen=True, slots=True)
class Selection:
    """The selectors of one run. Empty: every declared instance."""

    regions: tuple[str, ...] = ()
    #: (key, glob) pairs, in the order given; key is ``id``, ``region`` or ``labels.NAME``.
    patterns: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.regions and not self.patterns

    def describe(self) -> str:
        """The selection as command-line options (for messages and the saved plan's reader)."""
        parts = [f"--region {r}" for r in self.regions] + [f"--select {k}={g}" for k, g in self.patterns]
        return " ".join(parts) if parts else "(every declared instance)"

    def to_json(self) -> dict[str, Any]:
        return {"regions": list(self.regions), "select": [f"{k}={g}" for k, g in self.patterns]}

    def matches(self, instance: DesiredInstance) -> bool:
        if self.regions and instance.region not in self.regions:
            return False
        by_key: dict[str, list[str]] = {}
        for key, glob in self.patterns:
            by_key.setdefault(key, []).append(glob)
        return all(any(_matches(_value(instance, key), glob) for glob in globs) for key, globs in by_key.items())


#: The empty selection: every declared instance.
EVERY_INSTANCE = Selection()


def _value(instance: DesiredInstance, key: str) -> str | None:
    if key == "id":
        return instance.id
    if key == "region":
        return instance.region
    return dict(instance.labels).get(key.removeprefix("labels."))


def _matches(value: str | None, glob: str) -> bool:
    return value is not None and fnmatch.fnmatchcase(value, glob)


def parse_selection(regions: Iterable[str] = (), selects: Iterable[str] = ()) -> Selection:
    """The selection the options give, or a :class:`UserError` naming the option and what was expected."""
    region_list = tuple(dict.fromkeys(regions))
    for region in region_list:
        if not _REGION.match(region) or region != region.strip():
            raise UserError(f"--region {visible(region)!r}: expected a region id such as 'cn-hangzhou'")
    patterns: list[tuple[str, str]] = []
    for select in selects:
        key, equals, glob = select.partition("=")
        if not equals or not key or not glob:
            raise UserError(
                f"--select {visible(select)!r}: expected KEY=GLOB, KEY one of {', '.join(SELECT_KEYS)} "
                "(for example --select id='pgm-orders-*' or --select labels.team=payments)"
            )
        if key not in ("id", "region") and not (
            key.startswith("labels.") and _LABEL_NAME.match(key.removeprefix("labels."))
        ):
            raise UserError(
                f"--select {visible(select)!r}: unknown key {visible(key)!r}; expected one of {', '.join(SELECT_KEYS)}"
            )
        patterns.append((key, glob))
    return Selection(regions=region_list, patterns=tuple(dict.fromkeys(patterns)))


def selection_from_json(value: Any) -> Selection:
    """The selection a saved plan recorded (``origin.selection``); none recorded: every instance."""
    if not isinstance(value, Mapping):
        return Selection()
    regions = value.get("regions") or []
    selects = value.get("select") or []
    if not isinstance(regions, list) or not isinstance(selects, list):
        raise UserError("the saved plan's origin.selection is malformed: expected lists 'regions' and 'select'")
    return parse_selection([str(r) for r in regions], [str(s) for s in selects])


def select(instances: Sequence[DesiredInstance], selection: Selection) -> tuple[DesiredInstance, ...]:
    """The instances the selection covers, in spec order; an error when it covers none."""
    if selection.empty:
        return tuple(instances)
    chosen = tuple(i for i in instances if selection.matches(i))
    if not chosen:
        regions = sorted({i.region for i in instances})
        raise UserError(
            f"{visible(selection.describe())}: selects none of the {len(instances)} declared instance(s) "
            f"(their regions: {', '.join(map(visible, regions)) or 'none'}); expected a selection that matches "
            "at least one"
        )
    return chosen

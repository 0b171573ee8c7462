"""Ignore rules: accepted differences that a drift report lists as ignored instead of counting them.

Why a file of its own, beside the specs: an accepted difference is a reviewed decision (who accepted
what, why, until when), so it lives in Git next to the specs and goes through the same review. The file
is ``.rdsssl-ignore.yaml`` in the spec directory (a leading ``.``: the spec loader never reads it as a
spec). Its format (documented in ``docs/drift.md``)::

    ignore:
      - instance: "pgm-legacy-*"        # an instance id or a glob (fnmatch: *, ?, [seq])
        field: "ssl.client_ca.acl"      # a field of the report, or a glob ("ssl.client_ca.*")
        reason: "the DBA team owns ACLs until the migration"   # required
        expires: 2027-03-31             # optional: from this day (UTC) on the rule no longer applies

A rule whose ``expires`` day has come stops applying and is reported as expired, so an accepted
difference cannot be forgotten. Bad rules are located errors (file:line: key path, expected, found),
raised before any cloud call. Loading reads YAML only through :mod:`rdsssl_reconcile.spec.yaml_source`;
matching is pure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.drift.model import FieldDrift
from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.spec.yaml_source import PathKey, YamlDocument, format_path, load_yaml_file
from rdsssl_reconcile.textsafe import visible

IGNORE_FILE = ".rdsssl-ignore.yaml"
_RULE_KEYS = ("instance", "field", "reason", "expires")


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    instance: str
    field: str
    reason: str
    expires: date | None
    #: ``specs/.rdsssl-ignore.yaml:4``: where a reviewer finds the rule to remove it.
    location: str

    def matches(self, instance_id: str, field: str) -> bool:
        return fnmatch.fnmatchcase(instance_id, self.instance) and fnmatch.fnmatchcase(field, self.field)

    def expired(self, today: date) -> bool:
        """Expired from its ``expires`` day on (the day itself included: "until" means before it)."""
        return self.expires is not None and today >= self.expires


@dataclass(frozen=True, slots=True)
class IgnoreResult:
    """Fields with their ignore marks, and the expired rules that would have matched one."""

    fields: tuple[FieldDrift, ...]
    expired: tuple[IgnoreRule, ...]


def apply_rules(
    instance_id: str, fields: Sequence[FieldDrift], rules: Sequence[IgnoreRule], *, now: datetime
) -> IgnoreResult:
    """Mark each field the first live rule matches as ignored; an expired rule marks nothing."""
    today = now.date()
    out: list[FieldDrift] = []
    expired: list[IgnoreRule] = []
    for item in fields:
        matching = [r for r in rules if r.matches(instance_id, item.field)]
        live = next((r for r in matching if not r.expired(today)), None)
        if live is not None:
            out.append(replace(item, ignored=True, ignore_reason=live.reason, ignore_rule=live.location))
            continue
        expired.extend(r for r in matching if r not in expired)
        out.append(item)
    return IgnoreResult(fields=tuple(out), expired=tuple(expired))


def find_ignore_file(spec_paths: Sequence[Path]) -> Path | None:
    """The ignore file of the first spec directory that has one (as ``_target.yaml`` is found)."""
    for path in spec_paths:
        directory = path if path.is_dir() else path.parent
        candidate = directory / IGNORE_FILE
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return None


def load_rules(file: Path) -> tuple[IgnoreRule, ...]:
    """Parse the ignore file; every problem is collected and raised as one located :class:`SpecError`."""
    try:
        document = load_yaml_file(file)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SpecError([f"{visible(str(file))}: cannot read the ignore file: {why}"]) from None
    problems = [f"{visible(str(file))}:{line or '?'}: {message}" for line, message in document.problems]
    if problems:
        raise SpecError(problems)
    return parse_rules(document)


def parse_rules(document: YamlDocument) -> tuple[IgnoreRule, ...]:
    problems: list[str] = []
    rules: list[IgnoreRule] = []
    shown = visible(str(document.file))

    def problem(path: PathKey, expected: str, found: Any) -> None:
        line = document.line_of(path)
        problems.append(f"{shown}:{line or '?'}: {format_path(path)}: expected {expected}, found {_found(found)}")

    data = document.data
    if data is None:
        return ()  # an empty file ignores nothing
    if not isinstance(data, dict):
        problem((), "a mapping with an 'ignore' list", data)
        raise SpecError(problems)
    for key in data:
        if key != "ignore":
            problem((key,), "only the key 'ignore'", key)
    entries = data.get("ignore", [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        problem(("ignore",), "a list of rules", entries)
        entries = []
    for index, entry in enumerate(entries):
        path: PathKey = ("ignore", index)
        if not isinstance(entry, dict):
            problem(path, "a mapping with instance, field and reason", entry)
            continue
        for key in entry:
            if key not in _RULE_KEYS:
                problem((*path, key), f"one of {', '.join(_RULE_KEYS)}", key)
        values: dict[str, str] = {}
        for key in ("instance", "field", "reason"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                problem(
                    (*path, key),
                    "a non-empty string" + (" (why the difference is accepted)" if key == "reason" else ""),
                    value if key in entry else _MISSING,
                )
                continue
            values[key] = value.strip()
        expires = _expiry(entry.get("expires"), (*path, "expires"), problem) if "expires" in entry else None
        if len(values) == 3:
            rules.append(
                IgnoreRule(
                    instance=values["instance"],
                    field=values["field"],
                    reason=values["reason"],
                    expires=expires,
                    location=f"{document.file}:{document.line_of(path) or '?'}",
                )
            )
    if problems:
        raise SpecError(problems)
    return tuple(rules)


class _Missing:
    pass


_MISSING = _Missing()


def _found(value: Any) -> str:
    if isinstance(value, _Missing):
        return "nothing (the key is missing)"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = visible(repr(value) if isinstance(value, str) else str(value))
    return text if len(text) <= 80 else text[:79] + "…"


def _expiry(value: Any, path: PathKey, problem: Any) -> date | None:
    if isinstance(value, datetime):
        problem(path, "a date YYYY-MM-DD (without a time)", value)
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    problem(path, "a date YYYY-MM-DD", value)
    return None

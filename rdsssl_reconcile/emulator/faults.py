"""Deterministic fault injection: the failures a reconciler must survive, on demand.

A rule names what to break (``kind``), which requests (``action``, ``instance_id``), and how many of them
(skip the first ``after`` matches, then affect ``count`` of them, each with ``probability``). Random choices
come from one ``random.Random(seed)``, so a sequential test sees the same faults on every run.

Kinds:

* ``latency``: sleep ``latency_ms`` before handling (any other rule can add ``latency_ms`` too);
* ``throttle``: ``Throttling.User`` (HTTP 400), with ``x-acs-retry-after: retry_after_ms`` when given
  (the SDK then raises ``ThrottlingException``, the SDK's ``do_request``);
* ``error``: a 5xx (``ServiceUnavailable`` 503 by default, ``InternalError`` for status 500) or any
  ``code``/``status``;
* ``drop``: close the connection without a response;
* ``hang``: an accepted modify never finishes (busy / ``setting`` until reset or ``set_instance``);
* ``fail``: an accepted modify ends with ``LastModifyStatus=failed`` and the old configuration;
* ``ignore``: an accepted modify restarts and ends with ``LastModifyStatus=success`` but the old
  configuration, so a client that trusts the status is fooled and one that re-reads is not.

``error`` and ``drop`` take ``phase: after`` to strike *after* the request was carried out, the nastiest
case for a client: the modify was accepted but the caller never heard.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import ServiceError
from .models import Outcome


class FaultKind(Enum):
    LATENCY = "latency"
    THROTTLE = "throttle"
    ERROR = "error"
    DROP = "drop"
    HANG = "hang"
    FAIL = "fail"
    IGNORE = "ignore"


ALIASES = {
    "throttling": "throttle",
    "server_error": "error",
    "5xx": "error",
    "drop_connection": "drop",
    "never_finish": "hang",
    "modify_never_finishes": "hang",
    "modify_failed": "fail",
    "failed": "fail",
    "ignored": "ignore",
    "silently_ignored": "ignore",
}
TRANSPORT_KINDS = frozenset({FaultKind.THROTTLE, FaultKind.ERROR, FaultKind.DROP})
OUTCOME_BY_KIND = {FaultKind.HANG: Outcome.NEVER, FaultKind.FAIL: Outcome.FAILED, FaultKind.IGNORE: Outcome.IGNORED}
OUTCOME_KINDS = frozenset(OUTCOME_BY_KIND)
RULE_FIELDS = (
    "kind",
    "action",
    "instance_id",
    "count",
    "after",
    "probability",
    "latency_ms",
    "retry_after_ms",
    "status",
    "code",
    "message",
    "phase",
)


#: One hour: a longer sleep only ties up a server thread (and beyond ~1e9 s, time.sleep overflows).
MAX_LATENCY_MS = 3_600_000


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRule:
    """One fault rule. ``action``/``instance_id`` None (or ``"*"``) match anything; ``count`` None is unlimited."""

    id: str
    kind: FaultKind
    action: str | None = None
    instance_id: str | None = None
    count: int | None = None
    after: int = 0
    probability: float = 1.0
    latency_ms: float = 0.0
    retry_after_ms: int | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    phase: str = "before"

    def matches(self, action: str, instance_id: str | None) -> bool:
        return (self.action is None or self.action == action) and (
            self.instance_id is None or self.instance_id == instance_id
        )

    def error(self) -> ServiceError:
        """The error a throttle/error rule answers with."""
        if self.kind is FaultKind.THROTTLE:
            error = ServiceError.of(self.code or "Throttling.User", status=self.status, message=self.message)
            if self.retry_after_ms:
                error = error.with_headers(("x-acs-retry-after", str(self.retry_after_ms)))
            return error
        code = self.code or ("InternalError" if self.status == 500 else "ServiceUnavailable")
        return ServiceError.of(code, status=self.status, message=self.message)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind.value
        return data


@dataclass(frozen=True, slots=True)
class TransportFault:
    """What happens to one request before (or after) it reaches the backend."""

    latency_seconds: float = 0.0
    rule: FaultRule | None = None


def build_rule(rule_id: str, fields: dict[str, Any]) -> FaultRule:
    """Validate admin input into a rule; ValueError names the bad field."""
    unknown = sorted(set(fields) - set(RULE_FIELDS))
    if unknown:
        raise ValueError(f"unknown fault rule field(s) {', '.join(unknown)}; known: {', '.join(RULE_FIELDS)}")
    raw_kind = str(fields.get("kind", "")).lower()
    try:
        kind = FaultKind(ALIASES.get(raw_kind, raw_kind))
    except ValueError:
        kinds = ", ".join(k.value for k in FaultKind)
        raise ValueError(f"fault kind must be one of {kinds} (got {fields.get('kind')!r})") from None
    action = fields.get("action")
    instance_id = fields.get("instance_id")
    rule = FaultRule(
        id=rule_id,
        kind=kind,
        action=None if action in (None, "*", "any") else str(action),
        instance_id=None if instance_id in (None, "*", "any") else str(instance_id),
        count=_optional_int(fields, "count", low=0),
        after=_optional_int(fields, "after", low=0) or 0,
        probability=_number(fields, "probability", 1.0),
        latency_ms=_number(fields, "latency_ms", 0.0),
        retry_after_ms=_optional_int(fields, "retry_after_ms", low=0),
        status=_optional_int(fields, "status", low=400),
        code=None if fields.get("code") is None else str(fields["code"]),
        message=None if fields.get("message") is None else str(fields["message"]),
        phase=str(fields.get("phase", "before")),
    )
    if not 0.0 <= rule.probability <= 1.0:
        raise ValueError(f"probability must be between 0 and 1 (got {rule.probability!r})")
    if not 0 <= rule.latency_ms <= MAX_LATENCY_MS:
        raise ValueError(f"latency_ms must be from 0 to {MAX_LATENCY_MS} (got {rule.latency_ms!r})")
    if rule.status is not None and rule.status > 599:
        raise ValueError(f"status must be an HTTP error status 400-599 (got {rule.status!r})")
    if rule.phase not in ("before", "after") or (
        rule.phase == "after" and kind not in (FaultKind.ERROR, FaultKind.DROP)
    ):
        raise ValueError("phase must be 'before', or 'after' for error and drop rules")
    if kind is FaultKind.LATENCY and rule.latency_ms <= 0:
        raise ValueError("a latency rule needs latency_ms > 0")
    return rule


def _number(fields: dict[str, Any], name: str, default: float) -> float:
    """A finite number: NaN would pass every range check below (all comparisons with it are false)."""
    value = fields.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number (got {value!r})")
    return float(value)


def _optional_int(fields: dict[str, Any], name: str, *, low: int) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low} (got {value!r})")
    return value


class FaultInjector:
    """The active rules and their counters. Thread-safe; deterministic for a sequential client.

    ``on_change`` is called (outside the injector's lock) whenever rules or counters change, so that an
    emulator with ``--state`` saves them before it answers: a ``count: 1`` rule that already struck must
    not strike again after a restart. The random sequence is not saved: it restarts from the seed.
    """

    def __init__(self, seed: int = 0, *, on_change: Callable[[], None] | None = None) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._seen: dict[str, int] = {}
        self._hits: dict[str, int] = {}
        self._next_id = 1
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults, not crypto
        self.on_change = on_change

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def add(self, **fields: Any) -> FaultRule:
        with self._lock:
            rule = build_rule(f"fault-{self._next_id}", fields)
            self._next_id += 1
            self._rules.append(rule)
            self._seen[rule.id] = 0
            self._hits[rule.id] = 0
        self._changed()
        return rule

    def clear(self, *, seed: int | None = None) -> None:
        """Drop every rule and restart the random sequence (same seed unless given)."""
        with self._lock:
            if seed is not None:
                self._seed = seed
            had_rules = bool(self._rules)
            self._rules.clear()
            self._seen.clear()
            self._hits.clear()
            self._rng = random.Random(self._seed)  # noqa: S311
        if had_rules:
            self._changed()

    def snapshot(self) -> dict[str, Any]:
        """Rules and counters as plain data, for the ``--state`` file."""
        with self._lock:
            return {
                "next_id": self._next_id,
                "rules": [
                    {"rule": r.to_dict(), "matched": self._seen[r.id], "hits": self._hits[r.id]} for r in self._rules
                ],
            }

    def restore(self, data: Any) -> list[str]:
        """Load a :meth:`snapshot`; returns the problems (each with its key path) instead of half-loading."""
        if data is None:
            return []
        problems: list[str] = []
        rules: list[tuple[FaultRule, int, int]] = []
        if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
            return ["faults: expected {next_id: N, rules: [...]}"]
        next_id = data.get("next_id", 1)
        if isinstance(next_id, bool) or not isinstance(next_id, int) or next_id < 1:
            problems.append(f"faults.next_id: expected an integer >= 1, got {next_id!r}")
            next_id = 1
        for index, item in enumerate(data["rules"]):
            where = f"faults.rules[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("rule"), dict):
                problems.append(f"{where}: expected {{rule: {{...}}, matched: N, hits: N}}")
                continue
            fields = dict(item["rule"])
            rule_id = fields.pop("id", None)
            if not isinstance(rule_id, str) or not rule_id:
                problems.append(f"{where}.rule.id: expected a rule id such as 'fault-1', got {rule_id!r}")
                continue
            try:
                rule = build_rule(rule_id, fields)
            except ValueError as exc:
                problems.append(f"{where}.rule: {exc}")
                continue
            counters = [item.get("matched", 0), item.get("hits", 0)]
            if any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in counters):
                problems.append(f"{where}: matched and hits must be integers >= 0, got {counters!r}")
                continue
            rules.append((rule, counters[0], counters[1]))
        if problems:
            return problems
        with self._lock:
            self._next_id = next_id
            self._rules = [r for r, _, _ in rules]
            self._seen = {r.id: seen for r, seen, _ in rules}
            self._hits = {r.id: hits for r, _, hits in rules}
        return []

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**r.to_dict(), "matched": self._seen[r.id], "hits": self._hits[r.id]} for r in self._rules]

    def _fires(self, rule: FaultRule) -> bool:
        self._seen[rule.id] += 1
        if self._seen[rule.id] <= rule.after:
            return False
        if rule.count is not None and self._hits[rule.id] >= rule.count:
            return False
        if rule.probability < 1.0 and self._rng.random() >= rule.probability:
            return False
        self._hits[rule.id] += 1
        return True

    def transport(self, action: str, instance_id: str | None) -> TransportFault:
        """Latency and at most one throttle/error/drop rule for this request."""
        if not self._rules:
            return TransportFault()
        counted = False
        with self._lock:
            latency_ms = 0.0
            chosen: FaultRule | None = None
            for rule in self._rules:
                if not rule.matches(action, instance_id):
                    continue
                if rule.kind is FaultKind.LATENCY:
                    counted = True
                    if self._fires(rule):
                        latency_ms += rule.latency_ms
                elif rule.kind in TRANSPORT_KINDS and chosen is None:
                    counted = True
                    if self._fires(rule):
                        chosen = rule
                        latency_ms += rule.latency_ms
        if counted:
            self._changed()
        return TransportFault(latency_seconds=latency_ms / 1000.0, rule=chosen)

    def modify_outcome(self, action: str, instance_id: str | None) -> Outcome:
        """Asked once a modify is accepted: does a hang/fail/ignore rule claim it?"""
        if not self._rules:
            return Outcome.SUCCESS
        outcome, counted = Outcome.SUCCESS, False
        with self._lock:
            for rule in self._rules:
                if rule.kind in OUTCOME_KINDS and rule.matches(action, instance_id):
                    counted = True
                    if self._fires(rule):
                        outcome = OUTCOME_BY_KIND[rule.kind]
                        break
        if counted:
            self._changed()
        return outcome

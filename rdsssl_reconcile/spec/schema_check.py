"""One JSON Schema, checked two ways: a compiled validator says *whether* a value is valid, jsonschema says *why not*.

jsonschema (the reference implementation, whose errors the loader turns into located messages) costs
about 0.2 ms per instance of a spec: 2 s of a 10,000-instance ``plan`` before its first cloud call.
fastjsonschema compiles the schema into straight-line Python and answers "valid?" some 20 times
faster. So a value is first checked by the compiled validator; only a value it refuses goes through
jsonschema, which finds and describes every error exactly as before. The two never disagree in the
outcome that matters: the compiled one only ever lets a value skip the reference check.

Compiling costs about 20 ms, the price of checking some 100 instances with jsonschema, so it is
done only once a process has checked that many values with one schema: ``validate`` of one spec
file with a handful of instances does not pay it, a fleet does once.

fastjsonschema implements drafts 4 to 7; the spec and saved-plan schemas are written for 2020-12 but use
only keywords whose meaning did not change between draft 7 and 2020-12 (:data:`SAME_IN_DRAFT_7`; a
``$ref`` only alone in its object, into ``$defs``). A schema with anything else is never compiled: it is
checked by jsonschema alone. The saved-plan schema is checked this way too (``planfile.schema_problems``:
a 10,000-instance plan in 0.4 s instead of 3.6 s).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

#: Keywords that mean the same in draft 7 (what fastjsonschema compiles) and in draft 2020-12.
#: ``items`` is included as a schema for every element (an array of schemas changed meaning), ``$ref``
#: alone in its object and pointing into the document's ``$defs`` (beside other keywords it changed).
SAME_IN_DRAFT_7 = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$ref",
        "additionalProperties",
        "allOf",
        "anyOf",
        "const",
        "description",
        "else",
        "enum",
        "if",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "not",
        "oneOf",
        "pattern",
        "properties",
        "propertyNames",
        "required",
        "then",
        "title",
        "type",
        "uniqueItems",
    }
)

#: Values checked by jsonschema alone before the compiled validator is built.
COMPILE_AFTER = 100


def _keywords(schema: Any, found: set[str]) -> set[str]:
    """Every keyword used anywhere in ``schema`` (names under ``properties`` and ``$defs`` are not keywords).

    Two uses are reported under names of their own, because draft 7 reads them differently: ``items``
    given an array, and ``$ref`` beside other keywords (draft 7 ignores those), or pointing outside the
    document.
    """
    if isinstance(schema, Mapping):
        if "$ref" in schema and (len(schema) > 1 or not str(schema["$ref"]).startswith("#/$defs/")):
            found.add("$ref (with siblings or outside $defs)")
        for key, value in schema.items():
            found.add(key)
            if key in ("properties", "$defs") and isinstance(value, Mapping):
                for sub in value.values():
                    _keywords(sub, found)
            elif key == "items" and isinstance(value, list):
                found.add("items (array)")
            elif key not in ("enum", "const", "required", "description", "title", "$ref"):
                _keywords(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _keywords(item, found)
    return found


def compilable(schema: Mapping[str, Any]) -> bool:
    """Whether draft 7's reading of ``schema`` is the same as 2020-12's (then it may be compiled)."""
    return _keywords(schema, set()) <= SAME_IN_DRAFT_7


class SchemaCheck:
    """``iter_errors`` as jsonschema's validator has it, with the compiled fast path in front."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self.reference = jsonschema.Draft202012Validator(schema)
        self._compilable = compilable(schema)
        self._checked = 0
        self._fast: Any = None
        self._refused: type[Exception] = Exception

    @property
    def compiled(self) -> bool:
        """Whether the fast path is in use (after :data:`COMPILE_AFTER` values, for a compilable schema)."""
        return self._fast is not None

    def _compile(self) -> None:
        import fastjsonschema  # only once it pays: a small spec set never loads it

        # Without $id: fastjsonschema would try to resolve the references against that (remote) URI.
        draft7 = {key: value for key, value in self.schema.items() if key not in ("$schema", "$id")}
        # use_default=False: the compiled code must never write defaults into the checked value.
        self._fast = fastjsonschema.compile(draft7, use_default=False, use_formats=False)
        self._refused = fastjsonschema.JsonSchemaException

    def is_valid_fast(self, value: Any, *, weight: int = 1) -> bool:
        """True only when the compiled validator accepts ``value`` (False also before it is built).

        ``weight``: how many values' worth of checking ``value`` is (a saved plan counts its instances),
        towards :data:`COMPILE_AFTER`.
        """
        if self._fast is None:
            self._checked += weight
            if not (self._compilable and self._checked > COMPILE_AFTER):
                return False
            self._compile()
        try:
            self._fast(value)
        except self._refused:
            return False
        return True

    def iter_errors(self, value: Any, *, weight: int = 1) -> Iterator[ValidationError]:
        """jsonschema's errors for ``value``; none, without asking jsonschema, when the compiled check passes."""
        if self.is_valid_fast(value, weight=weight):
            return iter(())
        return self.reference.iter_errors(value)

"""The drift report as JSON (``drift --format json``): the documented, versioned form.

Its schema is committed as ``rdsssl_reconcile/drift.schema.json`` and documented in ``docs/drift.md``;
values are exact (``json.dumps`` escapes every control and non-ASCII character), and ``merge`` and the
other renderers rebuild the report from it (:func:`~rdsssl_reconcile.drift.model.report_from_json`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from rdsssl_reconcile import __version__
from rdsssl_reconcile.drift.model import DriftReport, report_to_json


def render_drift_json(report: DriftReport) -> str:
    return json.dumps(report_to_json(report, tool_version=__version__), indent=2) + "\n"


@cache
def drift_schema() -> dict[str, Any]:
    """The committed JSON Schema of the drift report."""
    text = resources.files("rdsssl_reconcile").joinpath("drift.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

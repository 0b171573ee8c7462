"""A failed command as a document, for pipelines that read stdout: JSON, or Markdown for a PR comment.

``validate --format json`` and ``plan --format json|markdown`` used to print nothing on stdout when the
specs were bad, so a PR-comment step posted an empty comment and a JSON consumer choked. With these,
stdout carries a document that says the command failed and why (``terraform validate -json`` prints
``{"valid": false, ...}``), stderr keeps the human message, and the exit code stays 1.

JSON schema (``format_version`` 1.0)::

    {"format_version": "1.0", "command": "plan", "valid": false,
     "error": {"kind": "spec" | "target" | "plan_file" | "pem" | "user" | "cloud",
               "message": "...", "problems": ["...", ...],
               "code": "...", "action": "...", "request_id": "..."}}   # the last three for "cloud" only

``problems`` lists every spec problem for a spec error and holds the message alone otherwise. Strings are
exact (JSON escapes them); the Markdown escapes them for a comment (:mod:`rdsssl_reconcile.textsafe`).
"""

from __future__ import annotations

import json
from typing import Any

from rdsssl_reconcile.errors import CloudError, PemError, PlanFileError, ReconcileError, SpecError, TargetError
from rdsssl_reconcile.render.markdown import markdown_inline

ERROR_FORMAT_VERSION = "1.0"


def _kind(error: ReconcileError) -> str:
    for cls, kind in (
        (SpecError, "spec"),
        (TargetError, "target"),
        (PlanFileError, "plan_file"),
        (PemError, "pem"),
        (CloudError, "cloud"),
    ):
        if isinstance(error, cls):
            return kind
    return "user"


def error_document(error: ReconcileError, *, command: str) -> dict[str, Any]:
    """The documented JSON error document for ``error`` raised by ``command``."""
    message = error.message if isinstance(error, CloudError) else str(error)
    problems = list(error.problems) if isinstance(error, SpecError) else [message]
    detail: dict[str, Any] = {"kind": _kind(error), "message": message, "problems": problems}
    if isinstance(error, CloudError):
        detail |= {"code": error.code, "action": error.action, "request_id": error.request_id}
    return {"format_version": ERROR_FORMAT_VERSION, "command": command, "valid": False, "error": detail}


def render_error_json(error: ReconcileError, *, command: str) -> str:
    return json.dumps(error_document(error, command=command), indent=2) + "\n"


def render_error_markdown(error: ReconcileError, *, command: str) -> str:
    """A CAUTION block a PR comment can carry: what failed, then every problem as a list item."""
    document = error_document(error, command=command)
    problems = document["error"]["problems"]
    what = "The specs do not load" if isinstance(error, SpecError) else f"`{command}` failed"
    lines = [
        f"### rdsssl-reconcile {command}",
        "",
        "> [!CAUTION]",
        f"> **{what}: nothing was planned.** Fix the problems below and push again.",
        "",
        *(f"- {markdown_inline(problem)}" for problem in problems),
    ]
    return "\n".join(lines) + "\n"

"""Saved plans (``plan --out FILE``): the reviewed artifact that ``apply PLANFILE`` carries out.

A saved plan is the JSON plan plus what apply needs to refuse a stale one: the spec paths (to load the
desired state again), each instance's live-state fingerprint and desired-state digest, and the digest
of the request that was shown. It holds references to secrets (``{file: ...}``, ``{env: ...}``) and
public fingerprints, never secret values, so it can be attached to a pull request.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from rdsssl_reconcile import __version__
from rdsssl_reconcile.errors import PlanFileError
from rdsssl_reconcile.planning.model import PLAN_FORMAT_VERSION, Plan, plan_to_json
from rdsssl_reconcile.spec.model import DesiredInstance, desired_to_json

KIND = "rdsssl-reconcile/saved-plan"


def saved_plan_document(plan: Plan, desired: tuple[DesiredInstance, ...]) -> dict[str, Any]:
    document = plan_to_json(plan, tool_version=__version__)
    document["kind"] = KIND
    document["desired"] = {item.id: desired_to_json(item) for item in desired}
    return document


def write_plan(path: Path, plan: Plan, desired: tuple[DesiredInstance, ...]) -> None:
    """Write atomically, so an interrupted run never leaves half a plan that apply could read."""
    text = json.dumps(saved_plan_document(plan, desired), indent=2, sort_keys=False) + "\n"
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_plan(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such plan file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanFileError(f"{path}: not a readable plan file ({type(exc).__name__})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise PlanFileError(f"{path}: not a plan saved by 'rdsssl-reconcile plan --out'")
    version = str(document.get("format_version", ""))
    if version.split(".")[0] != PLAN_FORMAT_VERSION.split(".")[0]:
        raise PlanFileError(
            f"{path}: plan format {version!r} is not supported by this version (expects {PLAN_FORMAT_VERSION})"
        )
    return document

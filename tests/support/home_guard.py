"""Prove that a test session wrote nothing of the tool's into the real home directory (issue 10, acceptance 7).

The autouse ``_private_home`` fixture gives every test its own HOME and XDG_STATE_HOME; this is the check
that it worked, for code paths and subprocesses that bypass it. :func:`tool_files_written` lists files
modified since a moment under the real home (and the real XDG_STATE_HOME) that belong to rdsssl-reconcile:
anything with "rdsssl" in its path (the default audit log and locks under ``.local/state/rdsssl-reconcile``),
a file named ``audit.jsonl``, or a saved plan (a JSON document of the saved-plan kind).

It must not fail for what other programs write meanwhile, so it looks only for those names; it never
reads a file unless its name says "plan", skips caches and toolchains that other tools write
(``~/.cache``, pip, cargo, ...), the repository itself and any other checkout or worktree (the suite's
own ``.pytest_cache`` and ``__pycache__``; a CI checkout often lies under HOME), virtualenvs, the
Python environment and the temporary directory. The walk has a time budget: past it, the check reports what it did not cover
instead of failing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Directory names never walked: caches and toolchains that other programs fill during a test run.
SKIPPED_DIRECTORIES = frozenset(
    {".cache", ".npm", ".cargo", ".rustup", ".pyenv", ".m2", ".gradle", ".pip", "pip", "node_modules", ".git", "go"}
)
SAVED_PLAN_KIND = "rdsssl-reconcile/saved-plan"
_PLAN_SIZE_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HomeCheck:
    """What the walk found: the tool's files written since the marker, and whether it covered everything."""

    written: tuple[Path, ...]
    complete: bool


def _is_saved_plan(path: Path) -> bool:
    if "plan" not in path.name.lower() or path.suffix.lower() not in {".json", ".plan", ""}:
        return False
    try:
        if path.stat().st_size > _PLAN_SIZE_LIMIT:
            return False
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("kind") == SAVED_PLAN_KIND


def is_tool_file(path: Path, root: Path) -> bool:
    """Whether ``path`` (under ``root``) is something rdsssl-reconcile writes."""
    relative = str(path.relative_to(root)).lower()
    return "rdsssl" in relative or path.name == "audit.jsonl" or _is_saved_plan(path)


def _walked(directory: str, skip: set[str]) -> bool:
    """Whether to look inside ``directory``: not a cache, not excluded, not a checkout or a virtualenv."""
    if os.path.basename(directory) in SKIPPED_DIRECTORIES or directory in skip:
        return False
    if os.path.islink(directory):
        return False  # a symlinked directory could lead anywhere, even back into the repository
    # Another checkout or worktree of this project (its own test runs write there) or a virtualenv.
    return not any(os.path.lexists(os.path.join(directory, m)) for m in (".git", "pyproject.toml", "pyvenv.cfg"))


def tool_files_written(
    roots: Iterable[Path], *, since: float, excluded: Sequence[Path], budget_seconds: float = 20.0
) -> HomeCheck:
    """The tool's files under ``roots`` modified at or after ``since`` (a ``time.time()`` value)."""
    skip = {os.path.realpath(p) for p in excluded}
    deadline = time.monotonic() + budget_seconds
    found: list[Path] = []
    for root in dict.fromkeys(Path(os.path.realpath(r)) for r in roots):
        if not root.is_dir():
            continue
        for directory, dirs, files in os.walk(root):
            if time.monotonic() > deadline:
                return HomeCheck(tuple(sorted(set(found))), complete=False)
            dirs[:] = [d for d in dirs if _walked(os.path.join(directory, d), skip)]
            for name in files:
                path = Path(directory, name)
                try:
                    if path.lstat().st_mtime < since:
                        continue
                except OSError:
                    continue  # gone meanwhile: whatever wrote it removed it
                if is_tool_file(path, root):
                    found.append(path)
    return HomeCheck(tuple(sorted(set(found))), complete=True)  # nested roots find a file twice

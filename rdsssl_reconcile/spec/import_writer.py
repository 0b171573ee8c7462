"""Write an import's files into its directory: idempotent, never over an edited file, never a key.

Why a manifest: an imported spec is meant to be edited (policies, descriptions, labels), and a second
import must not silently undo that. ``DIR/_import-manifest.json`` records the SHA-256 of every file the
import wrote (the ``_`` keeps it out of the spec set). On the next import a file is

* ``unchanged``: it already has the bytes the import would write (nothing is touched, not even mtimes);
* ``created``: it does not exist;
* ``updated``: the live state moved and the file is still exactly what the last import wrote;
* ``edited``: it differs from what the last import wrote (or no import wrote it): refused, naming every such
  file, and nothing at all is written, unless ``--force`` (then ``overwritten``).

The manifest holds no time and is rewritten only when it changes, so an import of an unchanged fleet is a
run that changes no byte and no mtime. Files are written atomically (temporary file, then rename), mode
0644; directories are created as needed. Nothing that holds a private key is ever written.
"""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.secretfiles import replace_atomically
from rdsssl_reconcile.spec.keyscan import holds_private_key
from rdsssl_reconcile.textsafe import listing, visible

MANIFEST = "_import-manifest.json"
MANIFEST_KIND = "rdsssl-reconcile/import-manifest"
#: Beside the specs: keys provided as files (``--key-ref file``) must not be committed by accident.
GITIGNORE = (".gitignore", "# Written by rdsssl-reconcile import: private keys are provided, never committed.\n*.key\n")


class FileAction(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    OVERWRITTEN = "overwritten"
    EDITED = "edited"


@dataclass(frozen=True, slots=True)
class FileOutcome:
    path: str  # relative to the output directory
    action: FileAction


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_manifest(directory: Path) -> dict[str, str]:
    """The files the last import wrote (relative path -> sha256), or none."""
    path = directory / MANIFEST
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UserError(f"{visible(str(path))}: cannot read the import manifest: {reason}") from None
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{visible(str(path))}:{exc.lineno}: the import manifest is not JSON: {exc.msg}") from None
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("kind") != MANIFEST_KIND
        or not isinstance(files, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
    ):
        raise UserError(
            f"{visible(str(path))}: not an import manifest (expected kind {MANIFEST_KIND!r} and a 'files' mapping of "
            "path to sha256); remove it to import afresh, with --force for files that exist"
        )
    return dict(files)


def manifest_text(files: Mapping[str, str]) -> str:
    document = {"kind": MANIFEST_KIND, "version": 1, "files": dict(sorted(files.items()))}
    return json.dumps(document, indent=2) + "\n"


def _current(path: Path) -> str | None:
    """The file's text; None when it does not exist. Anything but a regular file is refused."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{visible(str(path))}: exists and is not a regular file; import writes regular files only")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return ""  # not what the import would write: edited


def decide(directory: Path, files: Sequence[tuple[str, str]], *, force: bool) -> list[FileOutcome]:
    """What writing ``files`` would do to each, given what is on disk and the manifest."""
    manifest = read_manifest(directory)
    outcomes = []
    for relative, content in files:
        current = _current(directory / relative)
        if current is None:
            action = FileAction.CREATED
        elif current == content:
            action = FileAction.UNCHANGED
        elif manifest.get(relative) == sha256_text(current):
            action = FileAction.UPDATED
        else:
            action = FileAction.OVERWRITTEN if force else FileAction.EDITED
        outcomes.append(FileOutcome(path=relative, action=action))
    return outcomes


def write_import(directory: Path, files: Sequence[tuple[str, str]], *, force: bool) -> list[FileOutcome]:
    """Write ``files`` (relative path, text) under ``directory``; all or nothing when one was edited.

    Raises:
        UserError: a file was edited since the import wrote it (or was not written by an import), without
            ``force``; nothing was written.
    """
    for relative, content in files:
        if holds_private_key(content):
            raise AssertionError(f"import: refusing to write {relative}: it holds a private key")
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise AssertionError(f"import: {relative} is not a path inside the output directory")
    outcomes = decide(directory, files, force=force)
    edited = [o.path for o in outcomes if o.action is FileAction.EDITED]
    if edited:
        raise UserError(
            listing(
                f"{len(edited)} file(s) in {visible(str(directory))} were edited since the import wrote them (or were "
                "not written by an import); nothing was written. Keep your edits, or run import again with --force "
                "to replace them:",
                edited,
            )
        )
    contents = dict(files)
    for outcome in outcomes:
        if outcome.action is not FileAction.UNCHANGED:
            _write_atomic(directory / outcome.path, contents[outcome.path])
    manifest = read_manifest(directory)
    new_manifest = {**manifest, **{relative: sha256_text(content) for relative, content in files}}
    text = manifest_text(new_manifest)
    if _current(directory / MANIFEST) != text:
        _write_atomic(directory / MANIFEST, text)
    return outcomes


def _write_atomic(path: Path, text: str) -> None:
    replace_atomically(path, text)

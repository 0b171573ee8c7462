"""Write files that may hold secrets: private keys born 0600, nothing overwritten by surprise.

Used by ``certs ca create`` / ``certs issue`` and by ``apply --export-dir``. The rules:

* A secret file is created with mode 0600 by ``os.open(O_CREAT | O_EXCL, 0o600)``: there is no moment
  at which the key sits on disk with wider permissions (a chmod after writing leaves such a moment, and a
  umask cannot widen what ``os.open`` asks for; we fchmod the still-empty file so a narrow umask cannot
  make it unreadable to its owner either).
* An existing file is never replaced unless ``force=True``; then the new content is written to a fresh
  0600 temporary file in the same directory and renamed over the old one, so readers see the old or the
  new file, never half of one, and a symlink at the path is replaced rather than followed.
* :func:`refuse_existing` checks a whole set of outputs before anything is written, so a command either
  writes all its files or none and names every file that is in the way.

Errors are :class:`OutputFileError` (a :class:`~rdsssl_reconcile.errors.UserError`) naming the path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rdsssl_reconcile.errors import UserError

__all__ = [
    "PUBLIC_FILE_MODE",
    "SECRET_FILE_MODE",
    "OutputFileError",
    "ensure_directory",
    "refuse_existing",
    "write_public_file",
    "write_secret_file",
]

SECRET_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644


class OutputFileError(UserError):
    """An output file exists already (without ``--force``) or cannot be written."""


def _as_bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def ensure_directory(directory: Path | str) -> Path:
    """Create ``directory`` (0700 when we create it: it will hold keys) and return it as a Path."""
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise OutputFileError(f"{str(path)!r} exists and is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFileError(f"cannot create directory {str(path)!r}: {exc.strerror}") from None
    return path


def _overwrite_hint(option: str) -> str:
    """The commands that write files name their overwrite option differently: each names its own."""
    return f"(replace with {option}, or write elsewhere)"


def refuse_existing(paths: Iterable[Path | str], *, force: bool, option: str = "--force") -> None:
    """Raise OutputFileError naming every path that exists, unless ``force``; call before writing anything.

    ``option`` is the calling command's overwrite option, named in the message."""
    if force:
        return
    existing = [str(p) for p in paths if os.path.lexists(p)]
    if existing:
        names = ", ".join(existing)
        raise OutputFileError(
            f"refusing to overwrite existing file{'s' if len(existing) > 1 else ''}: {names} {_overwrite_hint(option)}"
        )


def _write_new(path: Path, data: bytes, mode: int, option: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
    except FileExistsError:
        raise OutputFileError(f"refusing to overwrite existing file: {path} {_overwrite_hint(option)}") from None
    except OSError as exc:
        raise OutputFileError(f"cannot create {str(path)!r}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)  # the file is still empty: make the mode exact whatever the umask
        with os.fdopen(fd, "wb", closefd=True) as handle:
            fd = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        raise OutputFileError(f"cannot write {str(path)!r}: {exc.strerror}") from None


def _replace(path: Path, data: bytes, mode: int) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        # mkstemp opens with O_CREAT | O_EXCL and mode 0600: born private, like _write_new.
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputFileError(f"cannot write in {str(directory)!r}: {exc.strerror}") from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=True) as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise OutputFileError(f"cannot replace {str(path)!r}: {exc.strerror}") from None


def _write(path: Path | str, content: str | bytes, *, force: bool, mode: int, option: str) -> Path:
    target = Path(path)
    if force and os.path.lexists(target):
        if target.is_dir():
            raise OutputFileError(f"{str(target)!r} is a directory, not a file")
        _replace(target, _as_bytes(content), mode)
    else:
        _write_new(target, _as_bytes(content), mode, option)
    return target


def write_secret_file(path: Path | str, content: str | bytes, *, force: bool, option: str = "--force") -> Path:
    """Write a private key (or anything secret) with mode 0600 from the moment it exists.

    Raises:
        OutputFileError: the file exists and ``force`` is false, or it cannot be written. The message
            names the path and ``option`` (the command's overwrite option), never the content.
    """
    return _write(path, content, force=force, mode=SECRET_FILE_MODE, option=option)


def write_public_file(path: Path | str, content: str | bytes, *, force: bool, option: str = "--force") -> Path:
    """Write a certificate, CSR or CRL (mode 0644: they are public) with the same no-overwrite rule."""
    return _write(path, content, force=force, mode=PUBLIC_FILE_MODE, option=option)


def replace_atomically(path: Path, text: str | Iterable[str], *, mode: int = PUBLIC_FILE_MODE) -> None:
    """Write ``text`` to ``path`` whole or not at all (a reader never sees half a plan, report or spec).

    ``text`` may be a sequence of pieces, written one after the other (a 10,000-instance plan is not
    joined into one 40 MB string first). The directory is created; a temporary file beside ``path`` is
    fsync'ed and renamed over it. Errors are the OS's own (callers word them); the temporary file never
    stays behind.
    """
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

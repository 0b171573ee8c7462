"""Persistence of the emulated world to ``--state FILE``, crash-safe.

The contract (issue 2): an emulator killed with SIGKILL and restarted on the same file has lost nothing it
acknowledged. So the backend saves *before* the HTTP response is written, and each save is atomic: a temp
file in the same directory, fsync, ``os.replace`` over the old file, then fsync of the directory so the
rename itself survives a power cut. A reader therefore sees the old state or the new one, never half.

The file holds emulated private keys (the CA's and every instance's server key), so it is created with mode
0600 and re-chmodded on every save. Temporary files left by a save that was killed (``.NAME.*.tmp``) are
removed at start-up.

Used signature nonces live beside it, in ``NAME.nonces`` (:class:`NonceFile`): every request that passes the
signature check uses one, and rewriting a state of thousands of instances for each read would cost tens of
milliseconds per request. Each nonce is appended as one JSON line before the request is handled, which a
SIGKILL cannot undo (the kernel has the bytes); the file is rewritten with only the live nonces when it has
grown to twice their number.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .fleet import FleetError

FILE_MODE = 0o600


class StateFile:
    """One ``--state`` file: :meth:`load` at start-up, :meth:`save` after every accepted change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def nonce_path(self) -> Path:
        return self.path.with_name(f"{self.path.name}.nonces")

    def exists(self) -> bool:
        """True when there is something at the path; :meth:`load` refuses what is not a regular file."""
        return self.path.is_file() or self.path.is_symlink() or self.path.exists()

    def remove_stale_temporaries(self) -> list[Path]:
        """Delete ``.NAME.*.tmp`` files that a killed :meth:`save` left behind; returns them."""
        removed: list[Path] = []
        directory = self.path.parent
        if not directory.is_dir():
            return removed
        for stale in directory.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
                removed.append(stale)
        return removed

    def load(self) -> dict[str, Any]:
        source = str(self.path)
        try:
            from rdsssl_reconcile.spec.yaml_source import read_regular_text

            text = read_regular_text(self.path, limit=MAX_STATE_BYTES)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise FleetError(source, [f"cannot read the state file: {reason}"]) from None
        try:
            data = json.loads(text, parse_constant=NonFiniteNumber)
        except json.JSONDecodeError as exc:
            raise FleetError(source, [f"line {exc.lineno}: the state file is not valid JSON ({exc.msg})"]) from None
        except RecursionError:
            raise FleetError(source, ["the state file is nested too deeply; expected an emulator state"]) from None
        if not isinstance(data, dict):
            raise FleetError(source, ["the state file does not hold a JSON object"])
        return data

    def save(self, state_json: str) -> None:
        """Replace the file with ``state_json`` (the backend's serialised snapshot), atomically."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        payload = state_json.encode("utf-8")
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(directory)


#: A state of 10,000 instances is about 7 MB; one far bigger is not a state file.
MAX_STATE_BYTES = 1024 * 1024 * 1024


class NonFiniteNumber:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` in a state file load as: not a number at all.

    ``json.loads`` would make them floats, which pass range checks (every comparison with NaN is false)
    and fail later deep inside ``timedelta``. As this value is no ``int`` or ``float``, every field check
    refuses it where it stands, with the key path, and shows it as written.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


class NonceFile:
    """``NAME.nonces``: one ``["nonce", expires_at_epoch]`` JSON line per used nonce (see the module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._finalizer: Callable[[], Any] = lambda: None

    def load(self) -> list[tuple[str, float]]:
        """The entries written so far. A last line without its newline (a write cut by SIGKILL) is dropped;
        any other line that is not an entry makes the file unusable, named with its line."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise FleetError(str(self.path), [f"cannot read the nonce file: {exc.strerror or exc}"]) from None
        lines = data.split(b"\n")
        lines.pop()  # "" after the final newline, or a partial last line
        entries: list[tuple[str, float]] = []
        for number, line in enumerate(lines, start=1):
            try:
                nonce, expires_at = json.loads(line, parse_constant=_refuse_constant)
                if not isinstance(nonce, str) or isinstance(expires_at, bool):
                    raise ValueError
                expires = float(expires_at)
                if not math.isfinite(expires):
                    raise ValueError
            except (ValueError, TypeError, RecursionError):
                raise FleetError(
                    str(self.path),
                    [f'line {number}: expected ["nonce", expiry in epoch seconds], got {line[:80]!r}'],
                ) from None
            entries.append((nonce, expires))
        return entries

    def append(self, nonce: str, expires_at: float) -> None:
        line = (json.dumps([nonce, expires_at]) + "\n").encode("utf-8")
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
                # No close hook runs when an in-process emulator stops: close with the object instead.
                self._finalizer = weakref.finalize(self, os.close, self._fd)
            os.write(self._fd, line)

    def rewrite(self, entries: list[tuple[str, float]]) -> None:
        """Replace the file with ``entries`` (atomically), and append to the new file from now on."""
        payload = "".join(json.dumps([n, e]) + "\n" for n, e in entries).encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                os.fchmod(fd, FILE_MODE)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                os.replace(temp_name, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
                raise
            self._close_locked()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._fd is not None:
            self._finalizer()  # closes the descriptor, once
            self._fd = None


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)

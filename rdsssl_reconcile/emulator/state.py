"""Persistence of the emulated world to ``--state FILE``, crash-safe.

The contract (issue 2): an emulator killed with SIGKILL and restarted on the same file has lost nothing it
acknowledged. So the backend saves *before* the HTTP response is written, and each save is atomic: a temp
file in the same directory, fsync, ``os.replace`` over the old file, then fsync of the directory so the
rename itself survives a power cut. A reader therefore sees the old state or the new one, never half.

The file holds emulated private keys (the CA's and every instance's server key), so it is created with mode
0600 and re-chmodded on every save.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .fleet import FleetError

FILE_MODE = 0o600


class StateFile:
    """One ``--state`` file: :meth:`load` at start-up, :meth:`save` after every accepted change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise FleetError(str(self.path), [f"cannot read the state file: {exc.strerror or exc}"]) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FleetError(str(self.path), [f"line {exc.lineno}: the state file is not valid JSON"]) from None
        if not isinstance(data, dict):
            raise FleetError(str(self.path), ["the state file does not hold a JSON object"])
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

"""Run the CLI as a user who cannot read what root can, for tests that CI runs as root.

Root reads mode-0 files and directories and writes into read-only directories, so the rows that need a
refusal by the system would pass vacuously (or be skipped) as root. :func:`run_unprivileged` forks and,
when running as root, drops the child to uid/gid 65534 (nobody) before running the command in-process.
A fork rather than a new interpreter: the interpreter may live where nobody cannot read (a pyenv under
/root), so the modules a command needs are imported before the fork.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A scratch tree the unprivileged child can reach (pytest's own tmp dirs are 0700, owned by us)."""
    with tempfile.TemporaryDirectory(prefix="rdsssl-unprivileged-") as name:
        path = Path(name)
        path.chmod(0o755)  # nobody must be able to enter it; nothing secret is written here
        yield path
        for directory, _, _ in os.walk(path):
            os.chmod(directory, 0o700)  # so that the cleanup can enter what the test locked


def run_unprivileged(args: list[str], cwd: Path) -> Result:
    """Run ``rdsssl-reconcile ARGS`` in a forked child, as nobody when we are root (else as ourselves)."""
    import rdsssl_reconcile.cli.plan_cmd
    import rdsssl_reconcile.cli.runner  # noqa: F401 - imported before the fork, see the module doc
    from rdsssl_reconcile.cli import run

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code and the files
            code = 99
            try:
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                os.chdir(cwd)
                sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(out.fileno()), "wb"), encoding="utf-8")
                sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(err.fileno()), "wb"), encoding="utf-8")
                code = run(args)
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return Result(
            code=os.waitstatus_to_exitcode(status), out=out.read().decode("utf-8"), err=err.read().decode("utf-8")
        )

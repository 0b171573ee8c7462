"""Helpers that start an emulator for tests and benchmarks: in this process, or as a subprocess.

``run_emulator`` is the everyday fixture: a threaded server on 127.0.0.1 with a free port, torn down on exit.
``spawn_emulator_process`` runs the real ``rdsssl-reconcile emulator serve`` command: benchmarks use it so
client and server do not share a GIL (measured: benchmarks/README.md), and the crash tests use it to SIGKILL a real process.

The vendor SDK is imported only inside :meth:`RunningEmulator.sdk_client` (and the same method on
:class:`EmulatorProcess`), lazily: importing this module, or the package, never costs the SDK's start-up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .admin import EmulatorAdmin
from .app import EmulatorApp
from .auth import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_STS_ACCESS_KEY_ID,
    DEFAULT_STS_ACCESS_KEY_SECRET,
    DEFAULT_STS_SECURITY_TOKEN,
    default_keys,
)
from .postgres import PostgresBacking, back_instances
from .server import EmulatorServer
from .settings import EmulatorSettings


@dataclass(frozen=True, slots=True)
class StsCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)


DEFAULT_STS = StsCredentials(DEFAULT_STS_ACCESS_KEY_ID, DEFAULT_STS_ACCESS_KEY_SECRET, DEFAULT_STS_SECURITY_TOKEN)


def make_sdk_client(
    host_port: str,
    access_key_id: str,
    access_key_secret: str,
    *,
    security_token: str | None = None,
    read_timeout_ms: int = 10_000,
) -> Any:
    """An official ``alibabacloud_rds20140815.client.Client`` for an emulator at ``host_port`` (plain HTTP).

    ``endpoint`` is ``host:port`` without a scheme: with a scheme the SDK signs a literal
    ``http://...`` host header (the SDK's ``get_endpoint``).
    """
    # The project imports the vendor SDK in exactly one module; this helper borrows its client factory.
    from rdsssl_reconcile.cloud.sdk import raw_sdk_client

    return raw_sdk_client(
        host_port, access_key_id, access_key_secret, security_token=security_token, read_timeout_ms=read_timeout_ms
    )


@dataclass
class RunningEmulator:
    """What :func:`run_emulator` yields."""

    endpoint: str
    host_port: str
    access_key_id: str
    access_key_secret: str = field(repr=False)
    sts: StsCredentials = field(repr=False)
    admin: EmulatorAdmin
    app: EmulatorApp = field(repr=False)
    server: EmulatorServer = field(repr=False)
    #: The real PostgreSQL servers of backed instances (None when no instance is backed).
    backing: PostgresBacking | None = field(default=None, repr=False)

    def backed_endpoints(self) -> dict[str, tuple[str, int]]:
        """Endpoint name -> (address, port) of every backed instance's server: what a client maps the
        name to (psql ``host=NAME hostaddr=ADDRESS port=PORT``, curl-style ``--resolve NAME:PORT:ADDRESS``)."""
        backend = self.app.backend
        found: dict[str, tuple[str, int]] = {}
        for instance_id in backend.instance_ids():
            address = backend.backed_address(instance_id)
            if address is not None:
                for endpoint in backend.get_instance(instance_id).endpoints:
                    found[endpoint.host] = address
        return found

    def sdk_client(self, *, sts: bool = False, **overrides: Any) -> Any:
        """The official SDK client pointed at this emulator (STS credentials with ``sts=True``)."""
        if sts:
            return make_sdk_client(
                self.host_port,
                self.sts.access_key_id,
                self.sts.access_key_secret,
                security_token=self.sts.security_token,
                **overrides,
            )
        return make_sdk_client(self.host_port, self.access_key_id, self.access_key_secret, **overrides)


@contextlib.contextmanager
def run_emulator(
    fleet: dict[str, Any] | str | Path | None = None,
    *,
    restart_seconds: float = 0.2,
    state_file: str | Path | None = None,
    seed: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    backed: str | Sequence[str] | None = None,
    postgres_dir: str | Path | None = None,
    **settings: Any,
) -> Iterator[RunningEmulator]:
    """Start an emulator on ``host`` with a free port; stop it on exit.

    ``fleet`` is a fleet document (dict) or a fleet file; ``settings`` are :class:`EmulatorSettings` fields.
    ``backed`` (``"all"`` or ids) gives instances real PostgreSQL servers (so do ``backed: true`` entries),
    their clusters under ``postgres_dir`` (default: beside the state file, or under ``$XDG_STATE_HOME``);
    they stop on exit.
    """
    keys = default_keys(access_key_id, access_key_secret)
    app = EmulatorApp.create(
        fleet=fleet,
        state_file=state_file,
        settings=EmulatorSettings().updated(restart_seconds=restart_seconds, **settings),
        keys=keys,
        seed=seed,
    )
    backing = back_instances(
        app.backend,
        backed=backed,
        directory=Path(postgres_dir) if postgres_dir is not None else None,
        state_file=Path(state_file) if state_file is not None else None,
    )
    try:
        server = EmulatorServer(app, host=host, port=port).start()
    except BaseException:
        if backing is not None:
            backing.stop_all()
        raise
    try:
        yield RunningEmulator(
            endpoint=server.endpoint,
            host_port=server.host_port,
            access_key_id=keys[0].access_key_id,
            access_key_secret=keys[0].access_key_secret,
            sts=DEFAULT_STS,
            admin=EmulatorAdmin(server.endpoint),
            app=app,
            server=server,
            backing=backing,
        )
    finally:
        server.stop()
        if backing is not None:
            backing.stop_all()


class EmulatorProcess:
    """A running ``rdsssl-reconcile emulator serve`` subprocess, with its output captured to files."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        endpoint: str,
        *,
        stdout_path: Path,
        stderr_path: Path,
        access_key_id: str,
        access_key_secret: str,
    ) -> None:
        self.process = process
        self.endpoint = endpoint
        self.host_port = endpoint.removeprefix("http://")
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sts = DEFAULT_STS
        self.admin = EmulatorAdmin(endpoint)

    @property
    def pid(self) -> int:
        return self.process.pid

    def sdk_client(self, **overrides: Any) -> Any:
        return make_sdk_client(self.host_port, self.access_key_id, self.access_key_secret, **overrides)

    def output(self) -> str:
        """Everything the process printed so far (stdout, then stderr)."""
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> int:
        """SIGKILL: no shutdown code runs (the crash-safety tests use this)."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait(timeout=10)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.stop()
        if self.process.poll() is None:
            self.kill()


def spawn_emulator_process(
    fleet: str | Path | None = None,
    *,
    state_file: str | Path | None = None,
    restart_seconds: float | None = None,
    seed: int = 0,
    port: int = 0,
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    extra_args: Sequence[str] = (),
    output_dir: str | Path | None = None,
    startup_timeout: float = 30.0,
    env: dict[str, str] | None = None,
) -> EmulatorProcess:
    """Start ``python -m rdsssl_reconcile emulator serve`` and wait for its first line (the endpoint)."""
    argv = [sys.executable, "-m", "rdsssl_reconcile", "emulator", "serve", "--port", str(port), "--seed", str(seed)]
    if fleet is not None:
        argv += ["--fleet", str(fleet)]
    if state_file is not None:
        argv += ["--state", str(state_file)]
    if restart_seconds is not None:
        argv += ["--restart-seconds", str(restart_seconds)]
    if access_key_id is not None:
        argv += ["--access-key-id", access_key_id]
    if access_key_secret is not None:
        argv += ["--access-key-secret", access_key_secret]
    argv += list(extra_args)
    directory = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="rds-emulator-"))
    directory.mkdir(parents=True, exist_ok=True)
    stdout_path = directory / f"emulator-{os.getpid()}-{time.monotonic_ns()}.stdout"
    stderr_path = stdout_path.with_suffix(".stderr")
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        process = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
    endpoint = _wait_for_endpoint(process, stdout_path, stderr_path, startup_timeout)
    return EmulatorProcess(
        process,
        endpoint,
        stdout_path=stdout_path,
        stderr_path=stderr_path,
        access_key_id=access_key_id or DEFAULT_ACCESS_KEY_ID,
        access_key_secret=access_key_secret or DEFAULT_ACCESS_KEY_SECRET,
    )


def _wait_for_endpoint(process: subprocess.Popen[bytes], stdout: Path, stderr: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = stdout.read_text(errors="replace")
        if "\n" in text:
            first = text.split("\n", 1)[0].strip()
            if first.startswith("http://"):
                return first
            raise RuntimeError(f"the emulator printed {first!r} instead of its endpoint")
        if process.poll() is not None:
            raise RuntimeError(
                f"the emulator exited with code {process.returncode}: {_tail(stderr.read_text(errors='replace'))}"
            )
        time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"the emulator did not print its endpoint within {timeout:g} s")


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])


__all__ = [
    "DEFAULT_STS",
    "EmulatorProcess",
    "RunningEmulator",
    "StsCredentials",
    "make_sdk_client",
    "run_emulator",
    "spawn_emulator_process",
]

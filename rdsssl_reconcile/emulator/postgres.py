"""Real PostgreSQL servers behind backed instances: find the binaries, ``initdb``, start, restart, stop.

Why: an API that says a certificate is configured is not a client that connects with
``sslmode=verify-full``. A backed instance has its own cluster, listening on 127.0.0.1 on its own port; an
accepted ModifyDBInstanceSSL writes the new configuration (``pgconfig.py``) and restarts the server for
real (``pg_ctl restart -m fast``, so open connections are closed, as Alibaba's guides warn), and the
backend keeps the instance busy until the server accepts again (:meth:`PostgresBacking.restart_state`).

Where: every cluster lives under one directory (``--postgres-dir``, by default beside the ``--state`` file),
which also holds ``servers.json``, the record of what runs: an emulator killed with SIGKILL leaves its
servers running, and the next emulator on that directory stops them (``pg_ctl stop -m immediate``, or
SIGQUIT to the postmaster named in ``postmaster.pid`` once /proc confirms it is a postgres of that data
directory) before starting its own.

Root: PostgreSQL refuses to run as root. Under euid 0 every ``initdb``/``pg_ctl`` runs as an unprivileged
user (``RDSSSL_PG_USER``, else ``rdsssl-pg`` when it exists, else ``nobody``) that owns the data
directory and the key file. When that user cannot reach the directory (a parent such as pytest's
``/tmp/pytest-of-root`` is 0700), the data directories go to a private directory under the system temp
directory instead, owned by that user and named in ``servers.json``, so cleanup still finds them.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rdsssl_reconcile.errors import UserError

from .models import SslState
from .pgconfig import ALL_SSL_FILES, INCLUDE_LINE, cluster_files

if TYPE_CHECKING:
    from .backend import RdsBackend

log = logging.getLogger("rdsssl_reconcile.emulator")

REGISTRY_NAME = "servers.json"
REGISTRY_FORMAT = "rdsssl-reconcile-emulator-postgres"
SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
DEFAULT_USERS = ("rdsssl-pg", "nobody")
RUNTIME_PREFIX = "rdsssl-reconcile-pg-"

#: Restart states reported to the backend for one accepted modify.
PENDING, DONE, FAILED = "pending", "done", "failed"


class PostgresError(UserError):
    """A backed instance's server could not be set up (binaries missing, initdb or start failed)."""


@dataclass(frozen=True, slots=True)
class PgBinaries:
    """A directory holding ``initdb``, ``pg_ctl`` and ``postgres``."""

    bindir: Path

    @property
    def initdb(self) -> str:
        return str(self.bindir / "initdb")

    @property
    def pg_ctl(self) -> str:
        return str(self.bindir / "pg_ctl")


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def candidate_bindirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where the server binaries are looked for, in order: ``RDSSSL_PG_BINDIR``, ``pg_config --bindir``,
    ``/usr/lib/postgresql/*/bin`` (newest first: Debian's layout), then ``PATH``."""
    env = os.environ if environ is None else environ
    found: list[Path] = []
    if env.get("RDSSSL_PG_BINDIR"):
        found.append(Path(env["RDSSSL_PG_BINDIR"]))
    pg_config = shutil.which("pg_config", path=env.get("PATH"))
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                found.append(Path(out))
    found += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    initdb = shutil.which("initdb", path=env.get("PATH"))
    if initdb:
        found.append(Path(initdb).parent)
    return list(dict.fromkeys(found))


def find_binaries(environ: Mapping[str, str] | None = None) -> PgBinaries | None:
    """The first candidate directory with ``initdb``, ``pg_ctl`` and ``postgres``; None when there is none."""
    for bindir in candidate_bindirs(environ):
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return PgBinaries(bindir)
    return None


def require_binaries() -> PgBinaries:
    binaries = find_binaries()
    if binaries is None:
        raise PostgresError(
            "backed instances need the PostgreSQL server binaries (initdb, pg_ctl, postgres): none found in "
            "$RDSSSL_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin or PATH; "
            "install them (Debian: apt-get install postgresql)"
        )
    return binaries


@dataclass(frozen=True, slots=True)
class ServerUser:
    """Who runs the servers when the emulator runs as root."""

    name: str
    uid: int
    gid: int


def server_user(name: str | None = None) -> ServerUser | None:
    """None when not root (run directly); otherwise the unprivileged user to run PostgreSQL as."""
    if os.geteuid() != 0:
        return None
    wanted = [name] if name else [os.environ["RDSSSL_PG_USER"]] if os.environ.get("RDSSSL_PG_USER") else []
    for candidate in wanted or list(DEFAULT_USERS):
        try:
            entry = pwd.getpwnam(candidate)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise PostgresError(f"RDSSSL_PG_USER={candidate!r} is root; PostgreSQL refuses to run as root")
        return ServerUser(candidate, entry.pw_uid, entry.pw_gid)
    tried = ", ".join(wanted or DEFAULT_USERS)
    raise PostgresError(f"running as root, and no unprivileged user to run PostgreSQL as (tried {tried})")


def reachable_by(path: Path, user: ServerUser) -> bool:
    """Every existing directory from ``/`` down to ``path`` can be searched by ``user`` (mode bits only)."""
    groups = {user.gid, *os.getgrouplist(user.name, user.gid)}
    current = Path(path).resolve()
    for directory in [*reversed(current.parents), current]:
        try:
            info = directory.stat()
        except FileNotFoundError:
            break  # created below by us, owned by the user
        if info.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif info.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """A TCP connection to the server succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Cluster:
    """One data directory and the server on it."""

    def __init__(self, home: Path, port: int, binaries: PgBinaries, user: ServerUser | None) -> None:
        self.home = home
        self.data_dir = home / "data"
        self.log_file = home / "server.log"
        self.port = port
        self.binaries = binaries
        self.user = user
        self.lock = threading.Lock()
        self.ssl: SslState | None = None  # what the files now say

    # -- running commands as the server's user

    def _run(self, argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.home)}
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs = {"user": self.user.uid, "group": self.user.gid, "extra_groups": []}
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            argv,
            env=env,
            cwd=str(self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.uid, self.user.gid)

    def _fail(self, what: str, result: subprocess.CompletedProcess[str]) -> PostgresError:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        server = ""
        with contextlib.suppress(OSError):
            server = " | ".join(self.log_file.read_text(errors="replace").strip().splitlines()[-3:])
        return PostgresError(f"{what} failed for {self.data_dir} (exit {result.returncode}): {tail} {server}".strip())

    # -- lifecycle

    def init(self) -> None:
        """``initdb`` (superuser ``postgres``, trust, no locale, no fsync: a throw-away server)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._own(self.home)
        result = self._run(
            [
                self.binaries.initdb,
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
                "--wal-segsize=1",  # 1 MB WAL segments: a 22 MB cluster instead of 39, copied per instance
            ]
        )
        if result.returncode != 0:
            raise self._fail("initdb", result)
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n# rdsssl-reconcile emulator: the backed instance's settings\nfsync = off\n{INCLUDE_LINE}\n"
            )

    def copy_from(self, template: Cluster) -> None:
        """This cluster's data directory as a copy of ``template``'s (made by the server's user)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._own(self.home)
        result = self._run(["cp", "-a", str(template.data_dir), str(self.data_dir)])
        if result.returncode != 0:
            raise self._fail("copying the template cluster", result)

    def write(self, ssl: SslState) -> None:
        """Write the files ``ssl`` implies (key 0600 owned by the server's user); remove stale SSL files."""
        files = cluster_files(ssl, self.port)
        for name in ALL_SSL_FILES:
            if name not in files.texts:
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / name).unlink()
        for name, text in files.texts.items():
            target = self.data_dir / name
            temp = target.with_name(f".{name}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, files.modes[name])
            try:
                os.fchmod(fd, files.modes[name])
                if self.user is not None:
                    os.fchown(fd, self.user.uid, self.user.gid)
                os.write(fd, text.encode("utf-8"))
            finally:
                os.close(fd)
            os.replace(temp, target)
        self.ssl = ssl

    def start(self) -> None:
        result = self._pg_ctl("start", "-l", str(self.log_file))
        if result.returncode != 0:
            raise self._fail("pg_ctl start", result)
        self._wait_accepting()

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: open connections are closed; returns once the server accepts."""
        result = self._pg_ctl("restart", "-m", "fast", "-l", str(self.log_file))
        if result.returncode != 0:
            raise self._fail("pg_ctl restart", result)
        self._wait_accepting()

    def stop(self, mode: str = "fast") -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return True
        return self._pg_ctl("stop", "-m", mode).returncode == 0

    def _pg_ctl(self, action: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self.binaries.pg_ctl, action, "-D", str(self.data_dir), "-w", "-t", str(START_TIMEOUT_SECONDS)]
        return self._run([*argv, "-s", *args], timeout=START_TIMEOUT_SECONDS + 30)

    def _wait_accepting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not accepts(self.port):
            if time.monotonic() > deadline:
                raise PostgresError(f"the server of {self.data_dir} does not accept connections on port {self.port}")
            time.sleep(0.02)

    def postmaster_pid(self) -> int | None:
        return postmaster_pid(self.data_dir)


def postmaster_pid(data_dir: Path) -> int | None:
    """The pid in ``postmaster.pid`` when that process is alive and is a postgres of ``data_dir``."""
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        pid = int(first)
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if not cmdline or not os.path.basename(cmdline[0].decode(errors="replace")).startswith(("postgres", "postmaster")):
        return None
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        cwd = None
    wanted = str(data_dir.resolve())
    if cwd is not None and str(cwd) == wanted:
        return pid
    if any(part.decode(errors="replace") == wanted for part in cmdline):
        return pid
    return None


def _pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a stopped postmaster waits as one for init to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class PostgresBacking:
    """The clusters of every backed instance of one emulator, under one directory."""

    def __init__(self, base: Path, *, binaries: PgBinaries | None = None, user: ServerUser | None = None) -> None:
        self.base = Path(base)
        self.binaries = binaries or require_binaries()
        self.user = user if user is not None else server_user()
        self._lock = threading.RLock()
        self._clusters: dict[str, Cluster] = {}
        self._restarts: dict[str, tuple[str, str]] = {}  # instance id -> (request id, state)
        self._threads: list[threading.Thread] = []
        self._runtime: Path | None = None
        self._template_cluster: Cluster | None = None
        self._closed = False
        self.base.mkdir(parents=True, exist_ok=True)
        self.stopped_leftovers = self.clean_leftovers()

    # -- where clusters live

    def _clusters_root(self) -> Path:
        """``base/clusters``, or (root, and the user cannot reach it) a private dir under the temp dir."""
        inside = self.base / "clusters"
        if self.user is None or reachable_by(inside, self.user):
            inside.mkdir(exist_ok=True)
            if self.user is not None:
                os.chown(inside, self.user.uid, self.user.gid)
            return inside
        if self._runtime is None:
            digest = hashlib.sha256(str(self.base.resolve()).encode()).hexdigest()[:12]
            self._runtime = Path(tempfile.mkdtemp(prefix=f"{RUNTIME_PREFIX}{digest}-"))
            os.chown(self._runtime, self.user.uid, self.user.gid)
            self._record()
        return self._runtime

    # -- the record of what runs

    def _record(self) -> None:
        data = {
            "format": REGISTRY_FORMAT,
            "owner_pid": os.getpid(),
            "runtime_dir": str(self._runtime) if self._runtime else None,
            "clusters": {i: {"home": str(c.home), "port": c.port} for i, c in self._clusters.items()},
        }
        temp = self.base / f".{REGISTRY_NAME}.tmp"
        temp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temp, self.base / REGISTRY_NAME)

    def clean_leftovers(self) -> list[str]:
        """Stop the servers a previous emulator on this directory left running; remove their clusters."""
        path = self.base / REGISTRY_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("ignoring an unreadable %s", path)
            return []
        owner = data.get("owner_pid")
        if isinstance(owner, int) and owner != os.getpid() and _pid_alive(owner) and _is_emulator(owner):
            raise PostgresError(f"{self.base} is in use by another emulator (pid {owner}); give another --postgres-dir")
        stopped: list[str] = []
        runtime = data.get("runtime_dir")
        runtime_dir = Path(runtime) if isinstance(runtime, str) and _is_runtime_dir(Path(runtime)) else None
        # Only directories this emulator makes are touched: a damaged record cannot name another path.
        ours = {(self.base / "clusters").resolve(), *([runtime_dir.resolve()] if runtime_dir else [])}
        clusters = data.get("clusters") if isinstance(data.get("clusters"), dict) else {}
        for instance_id, entry in clusters.items():
            home = Path(entry.get("home", "")) if isinstance(entry, dict) else None
            if home is None or not home.is_absolute() or home.resolve().parent not in ours:
                log.warning("ignoring %s in %s: not a cluster directory of this emulator", home, path)
                continue
            if self._stop_leftover(home / "data"):
                stopped.append(instance_id)
            shutil.rmtree(home, ignore_errors=True)
        if runtime_dir is not None:
            shutil.rmtree(runtime_dir, ignore_errors=True)
        path.unlink(missing_ok=True)
        if stopped:
            log.info("stopped PostgreSQL servers left by a previous emulator: %s", ", ".join(stopped))
        return stopped

    def _stop_leftover(self, data_dir: Path) -> bool:
        pid = postmaster_pid(data_dir)
        if pid is None:
            return False
        cluster = Cluster(data_dir.parent, 0, self.binaries, self.user)
        if not cluster.stop("immediate"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return True

    # -- what the backend and the app call

    def address(self, instance_id: str) -> tuple[str, int] | None:
        cluster = self._clusters.get(instance_id)
        return None if cluster is None else ("127.0.0.1", cluster.port)

    def data_dir(self, instance_id: str) -> Path | None:
        cluster = self._clusters.get(instance_id)
        return None if cluster is None else cluster.data_dir

    def postmaster(self, instance_id: str) -> int | None:
        """The pid of the server of ``instance_id`` when it runs."""
        cluster = self._clusters.get(instance_id)
        return None if cluster is None else cluster.postmaster_pid()

    def ports(self) -> dict[str, int]:
        with self._lock:
            return {i: c.port for i, c in self._clusters.items()}

    def sync(self, wanted: Mapping[str, SslState]) -> None:
        """Make the servers match ``wanted`` (instance id -> SSL state to serve): new clusters started,
        changed ones rewritten and restarted, clusters of instances no longer backed stopped and removed.
        Instances with a restart in flight are left to it."""
        with self._lock:
            if self._closed:
                return
            for instance_id in [i for i in self._clusters if i not in wanted]:
                self._drop(instance_id)
            new: list[tuple[Cluster, SslState]] = []
            for instance_id, ssl in wanted.items():
                if self._restarts.get(instance_id, ("", DONE))[1] == PENDING:
                    continue
                cluster = self._clusters.get(instance_id)
                if cluster is None:
                    new.append((self._register(instance_id), ssl))
                elif cluster.ssl != ssl:
                    with cluster.lock:
                        cluster.write(ssl)
                        cluster.restart()
            if new:
                template = self._template()
                # Copies and starts overlap: most of a copy's time is waiting for the disk.
                with ThreadPoolExecutor(max_workers=min(4, len(new)), thread_name_prefix="pg-create") as pool:
                    for done in [pool.submit(self._create, c, template, ssl) for c, ssl in new]:
                        done.result()

    def _template(self) -> Cluster:
        """One ``initdb`` per emulator: every cluster is a copy of it (``cp -a``, a tenth of the time)."""
        if self._template_cluster is None:
            template = Cluster(self._clusters_root() / ".template", 0, self.binaries, self.user)
            shutil.rmtree(template.home, ignore_errors=True)
            template.init()
            self._template_cluster = template
        return self._template_cluster

    def _register(self, instance_id: str) -> Cluster:
        cluster = Cluster(self._clusters_root() / instance_id, free_port(), self.binaries, self.user)
        shutil.rmtree(cluster.home, ignore_errors=True)
        self._clusters[instance_id] = cluster
        self._record()  # before the server exists: a crash from here on leaves it findable
        return cluster

    def _create(self, cluster: Cluster, template: Cluster, ssl: SslState) -> None:
        cluster.copy_from(template)
        cluster.write(ssl)
        cluster.start()
        log.info("PostgreSQL on 127.0.0.1:%d (%s)", cluster.port, cluster.data_dir)

    def _drop(self, instance_id: str) -> None:
        cluster = self._clusters.pop(instance_id)
        with cluster.lock:
            cluster.stop("fast")
        shutil.rmtree(cluster.home, ignore_errors=True)
        self._record()

    def reconfigure(self, instance_id: str, request_id: str, ssl: SslState) -> None:
        """Write ``ssl`` and restart the server in the background; :meth:`restart_state` says when it is up."""
        with self._lock:
            cluster = self._clusters.get(instance_id)
            if cluster is None or self._closed:
                return
            self._restarts[instance_id] = (request_id, PENDING)
            thread = threading.Thread(
                target=self._restart, args=(cluster, instance_id, request_id, ssl), name=f"pg-restart-{instance_id}"
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()

    def _restart(self, cluster: Cluster, instance_id: str, request_id: str, ssl: SslState) -> None:
        state = DONE
        with cluster.lock:
            previous = cluster.ssl
            try:
                cluster.write(ssl)
                cluster.restart()
            except (PostgresError, OSError, subprocess.SubprocessError) as exc:
                state = FAILED
                log.error("instance %s: the server did not come back with the new SSL settings: %s", instance_id, exc)
                if previous is not None:
                    with contextlib.suppress(PostgresError, OSError, subprocess.SubprocessError):
                        cluster.write(previous)
                        cluster.restart()
        with self._lock:
            if self._restarts.get(instance_id, ("", ""))[0] == request_id:
                self._restarts[instance_id] = (request_id, state)

    def restart_state(self, instance_id: str, request_id: str) -> str:
        """``pending`` while the restart for ``request_id`` runs; ``failed`` if the server refused the new
        settings (it runs the old ones again); ``done`` otherwise (also for a request it never saw)."""
        with self._lock:
            known, state = self._restarts.get(instance_id, ("", DONE))
            return state if known == request_id else DONE

    def wait_idle(self, timeout: float = 120) -> None:
        """Wait for the restarts in flight (tests; and the emulator before it stops the servers)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop_all(self) -> None:
        """Stop every server and remove the clusters and the record: a clean emulator stop leaves nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.wait_idle(timeout=START_TIMEOUT_SECONDS)
        with self._lock:
            for instance_id in list(self._clusters):
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    self._drop(instance_id)
            atexit.unregister(self.stop_all)
            if self._template_cluster is not None:
                shutil.rmtree(self._template_cluster.home, ignore_errors=True)
                self._template_cluster = None
            if self._runtime is not None:
                shutil.rmtree(self._runtime, ignore_errors=True)
                self._runtime = None
            (self.base / REGISTRY_NAME).unlink(missing_ok=True)
            for leftover in (self.base / "clusters", self.base):
                with contextlib.suppress(OSError):
                    leftover.rmdir()  # only when empty: a --postgres-dir given by the user may hold more


def _is_runtime_dir(path: Path) -> bool:
    """A private directory :meth:`PostgresBacking._clusters_root` made under the system temp directory."""
    return path.is_absolute() and path.parent == Path(tempfile.gettempdir()) and path.name.startswith(RUNTIME_PREFIX)


def _is_emulator(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"rdsssl" in cmdline or b"pytest" in cmdline


def default_directory(state_file: Path | None) -> Path:
    """Beside the state file (``STATE.postgres``); without one, a per-process directory under
    ``$XDG_STATE_HOME/rdsssl-reconcile/emulator-postgres/`` (swept of dead emulators' leftovers)."""
    if state_file is not None:
        return Path(f"{state_file}.postgres")
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state_home / "rdsssl-reconcile" / "emulator-postgres" / f"pid-{os.getpid()}-{time.monotonic_ns()}"


def sweep_dead_siblings(directory: Path, binaries: PgBinaries, user: ServerUser | None) -> list[str]:
    """Clean the per-process directories beside ``directory`` whose emulator is gone (a SIGKILL)."""
    stopped: list[str] = []
    parent = directory.parent
    if not parent.is_dir():
        return stopped
    for sibling in parent.glob("pid-*"):
        if sibling == directory or not (sibling / REGISTRY_NAME).exists():
            continue
        try:
            stopped += PostgresBacking(sibling, binaries=binaries, user=user).stopped_leftovers
        except PostgresError:
            continue  # its emulator is alive
        shutil.rmtree(sibling, ignore_errors=True)
    return stopped


def back_instances(
    backend: RdsBackend, *, backed: str | Sequence[str] | None, directory: Path | None, state_file: Path | None
) -> PostgresBacking | None:
    """Mark ``backed`` (``all`` or ids) as backed and start a server for every backed instance.

    Returns None when no instance is backed (no binaries needed then). The servers stop at
    :meth:`PostgresBacking.stop_all`, which also runs at interpreter exit.
    """
    if backed == "all":
        backend.mark_backed(backend.instance_ids())
    elif backed:
        backend.mark_backed([backed] if isinstance(backed, str) else backed)
    if not any(backend.get_instance(i).backed for i in backend.instance_ids()):
        return None
    binaries = require_binaries()
    user = server_user()
    base = directory if directory is not None else default_directory(state_file)
    if directory is None and state_file is None:
        sweep_dead_siblings(base, binaries, user)
    backing = PostgresBacking(base, binaries=binaries, user=user)
    atexit.register(backing.stop_all)
    try:
        backend.set_backing(backing)
    except BaseException:
        backing.stop_all()
        raise
    return backing


def parse_backed_option(value: str | None) -> str | tuple[str, ...] | None:
    """``--backed all`` or ``--backed ID[,ID...]``."""
    if value is None:
        return None
    if value.strip() == "all":
        return "all"
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    return ids or None

"""Backed emulators for tests: real PostgreSQL servers behind emulated instances, and the real ``psql``.

``require_postgres()`` is the one gate: with the server binaries and ``psql`` present it returns them;
without, a test fails when ``CI`` is set (``.ci/run`` installs PostgreSQL, so a missing server there is a
broken CI machine, never a reason to skip) and skips elsewhere. Tests that use it are marked ``postgres``.

``backed_emulator(directory, fleet, ...)`` is ``run_emulator`` with every instance backed and the clusters
under ``directory``; its ``backed_endpoints()`` maps each endpoint name to the (address, port) to connect
to, which is what ``psql_conninfo`` (``host=NAME hostaddr=ADDRESS port=PORT``: connect there, verify the
name) and curl-style ``--resolve NAME:PORT:ADDRESS`` options are made from.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from rdsssl_reconcile.emulator.postgres import PgBinaries, find_binaries
from rdsssl_reconcile.pki.authority import CertificateAuthority

PSQL_TIMEOUT_SECONDS = 5


def require_postgres() -> tuple[PgBinaries, str]:
    """The server binaries and ``psql``; fails under CI and skips elsewhere when either is missing."""
    binaries = find_binaries()
    psql = shutil.which("psql") or (str(binaries.bindir / "psql") if binaries else None)
    if binaries is not None and psql is not None and os.access(psql, os.X_OK):
        return binaries, psql
    missing = "the PostgreSQL server binaries (initdb, pg_ctl)" if binaries is None else "psql"
    message = f"{missing} not found; .ci/run installs them (Debian: apt-get install postgresql)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}: tests marked postgres must run in CI")
    pytest.skip(message)


@contextlib.contextmanager
def backed_emulator(directory: Path, fleet: dict[str, Any] | None = None, **options: Any) -> Iterator[RunningEmulator]:
    """An in-process emulator whose instances are all backed (clusters under ``directory``)."""
    require_postgres()
    with run_emulator(fleet, backed="all", postgres_dir=directory, **options) as emulator:
        yield emulator


def resolve_options(emulator: RunningEmulator) -> list[str]:
    """``--resolve NAME:PORT:ADDRESS`` for every backed endpoint (curl's form, as ``verify`` takes it)."""
    options: list[str] = []
    for name, (address, port) in sorted(emulator.backed_endpoints().items()):
        options += ["--resolve", f"{name}:{port}:{address}"]
    return options


def psql_conninfo(emulator: RunningEmulator, name: str, **params: str) -> str:
    """A libpq conninfo for endpoint ``name``: connect to its server's address, verify ``name``."""
    address, port = emulator.backed_endpoints()[name]
    fields = {"host": name, "hostaddr": address, "port": str(port), "user": "postgres", "dbname": "postgres"}
    fields.update(params)
    return " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class PsqlResult:
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0


def psql_env() -> dict[str, str]:
    """The environment without any ``PG*`` variable of the caller, and a connect timeout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = str(PSQL_TIMEOUT_SECONDS)
    return env


def psql(conninfo: str, sql: str = "SELECT 1") -> PsqlResult:
    """The real ``psql`` client: ``-X`` (no psqlrc), unaligned tuples-only output, stop on error."""
    _, binary = require_postgres()
    completed = subprocess.run(
        [binary, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
        capture_output=True,
        text=True,
        env=psql_env(),
        timeout=PSQL_TIMEOUT_SECONDS * 4,
        check=False,
    )
    return PsqlResult(completed.returncode, completed.stdout.strip(), completed.stderr.strip())


def popen_psql(conninfo: str, sql: str) -> subprocess.Popen[str]:
    """``psql`` running ``sql`` in the background (a session open across an apply)."""
    _, binary = require_postgres()
    return subprocess.Popen(
        [binary, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=psql_env(),
    )


@dataclass(frozen=True)
class ClientFiles:
    """A client certificate and key on disk (key 0600, as libpq requires)."""

    cert: Path
    key: Path
    serial: int

    def params(self) -> dict[str, str]:
        return {"sslcert": str(self.cert), "sslkey": str(self.key)}


def issue_client_certificate(
    ca: CertificateAuthority, directory: Path, name: str, *, common_name: str = "postgres"
) -> ClientFiles:
    """A TLS client certificate for database user ``common_name``, signed by ``ca``, made at run time."""
    now = datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return ClientFiles(cert=cert_path, key=key_path, serial=serial)


def crl_revoking(ca: CertificateAuthority, serials: list[int]) -> str:
    """A CRL from ``ca`` revoking ``serials`` (PEM)."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=7))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(minutes=1)).build()
        )
    crl = builder.sign(ca.private_key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def postmaster_of(emulator: RunningEmulator, instance_id: str) -> int | None:
    """The pid of the postmaster serving ``instance_id`` (from its data directory)."""
    assert emulator.backing is not None
    return emulator.backing.postmaster(instance_id)


def data_dir_of(emulator: RunningEmulator, instance_id: str) -> Path:
    assert emulator.backing is not None
    found = emulator.backing.data_dir(instance_id)
    assert found is not None
    return found


def endpoint_ports(emulator: RunningEmulator) -> Mapping[str, int]:
    """Endpoint name -> port of its server (for the ``verify`` joins the coordinator adds)."""
    return {name: port for name, (_, port) in emulator.backed_endpoints().items()}

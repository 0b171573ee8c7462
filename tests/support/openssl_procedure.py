"""The documented OpenSSL procedure, its literal commands run at test time, plus generators for the bad cases.

The procedure is the one of "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance"
(a self-signed CA, then a server certificate for one endpoint or, with SANs, several).

Why: the tool must accept exactly what operators produce by following the RDS document (a ``-text`` dump
before the PEM, an X.509 v1 certificate without SANs, a CSR with an empty CN), and must catch the
mistakes they make. Nothing here is committed key material: every key is made when the test runs.

API (all paths are :class:`pathlib.Path`; every generator returns PEM ``bytes``):

``require_openssl() -> str``
    The openssl executable; ``pytest.skip`` when it is not installed.
``procedure_single_endpoint(directory, endpoint=PROCEDURE_ENDPOINT) -> ProcedureFiles``
    Runs the documented procedure's three "Single endpoint" commands in ``directory`` (``-text``, CN only, X.509 v1).
``procedure_san(directory, endpoints=PROCEDURE_SAN_ENDPOINTS) -> ProcedureFiles``
    Runs the "Multiple endpoints" commands: copies the system ``openssl.cnf``, appends
    ``req_extensions = v3_req``, ``[ v3_req ]`` and ``[ alt_names ]`` as the documented procedure says, and answers the
    CSR prompts through a prompt-less distinguished name with the documented procedure's example values and an empty CN.
``ProcedureFiles``
    ``directory, ca_cert, ca_key, server_csr, server_key, server_cert, endpoints, openssl_cnf`` and
    ``read(path) -> bytes``.
``load_authority(ca_cert, ca_key) -> CertificateAuthority``
    The documented procedure's CA as a :class:`~rdsssl_reconcile.pki.authority.CertificateAuthority`, to sign bad cases.
``encrypted_key_pkcs8(key_pem, passphrase=PASSPHRASE)``    ``-----BEGIN ENCRYPTED PRIVATE KEY-----``
``encrypted_key_legacy(key_pem, passphrase=PASSPHRASE)``   ``BEGIN RSA PRIVATE KEY`` + ``Proc-Type: 4,ENCRYPTED``
``pkcs1_key(key_pem)``                                    ``-----BEGIN RSA PRIVATE KEY-----`` (same key)
``foreign_key(now)``                                      the key of another, unrelated certificate
``expired_certificate(authority, endpoints, now) -> IssuedCertificate``   expired 30 days before ``now``
``certificate_for_other_host(authority, now, host=OTHER_HOST) -> IssuedCertificate``
``crlf_rewrapped(pem, width=76)``                         same DER, base64 re-wrapped, CRLF line ends
``one_line(pem)``                                         each block on one line, as API examples show
``write(path, data) -> Path``                              writes test files (keys 0600)
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType
from rdsssl_reconcile.pki.pem import find_pem_blocks, load_certificate, load_private_key

PROCEDURE_CA_CN = "root-server-ca"
PROCEDURE_ENDPOINT = "pgm-bpxxxxx.pg.rds.aliyuncs.com"
PROCEDURE_SAN_ENDPOINTS = ("pgm-bpxxxxx.pg.rds.aliyuncs.com", "pgm-bpyyyyy.pg.rds.aliyuncs.com")
OTHER_HOST = "pgm-other.pg.rds.aliyuncs.com"
PASSPHRASE = b"procedure-test-passphrase"

#: The documented procedure's example answers to the CSR prompts; Common Name and Email are left blank as it says.
PROCEDURE_DN = {
    "C": "CN",
    "ST": "ZheJiang",
    "L": "HangZhou",
    "O": "Alibaba",
    "OU": "Aliyun",
}


@dataclass(frozen=True, slots=True)
class ProcedureFiles:
    """The files the documented procedure's commands leave behind (names as in its "Verify the output" table)."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_csr: Path
    server_key: Path
    server_cert: Path
    endpoints: tuple[str, ...]
    openssl_cnf: Path | None = None

    @staticmethod
    def read(path: Path) -> bytes:
        return path.read_bytes()


def require_openssl() -> str:
    """The openssl executable, or skip the calling test."""
    found = shutil.which("openssl")
    if found is None:
        pytest.skip("openssl is not installed; the documented procedure's literal commands cannot run")
    return found


def _run(directory: Path, command: str, *args: str) -> None:
    """Run one procedure command (given as the document writes it) in ``directory``."""
    argv = [require_openssl(), *command.split()[1:], *args]
    completed = subprocess.run(argv, cwd=directory, capture_output=True, text=True, check=False, timeout=60)
    if completed.returncode != 0:
        raise AssertionError(f"procedure command failed ({completed.returncode}): {' '.join(argv)}\n{completed.stderr}")


def _files(directory: Path, endpoints: tuple[str, ...], cnf: Path | None = None) -> ProcedureFiles:
    return ProcedureFiles(
        directory=directory,
        ca_cert=directory / "server-ca.crt",
        ca_key=directory / "server-ca.key",
        server_csr=directory / "server.csr",
        server_key=directory / "server.key",
        server_cert=directory / "server.crt",
        endpoints=endpoints,
        openssl_cnf=cnf,
    )


def _create_procedure_ca(directory: Path) -> None:
    # 1. Create a self-signed CA certificate and its private key
    _run(
        directory,
        "openssl req -new -x509 -days 365 -nodes -out server-ca.crt -keyout server-ca.key",
        "-subj",
        f"/CN={PROCEDURE_CA_CN}",
    )


def procedure_single_endpoint(directory: Path, endpoint: str = PROCEDURE_ENDPOINT) -> ProcedureFiles:
    """The documented procedure's "Single endpoint" commands, literally, in ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    _create_procedure_ca(directory)
    # 2. Create a certificate signing request (CSR) and private key for the server certificate
    _run(directory, "openssl req -new -nodes -text -out server.csr -keyout server.key", "-subj", f"/CN={endpoint}")
    # 3. Sign the CSR with the CA to produce the server certificate
    _run(
        directory,
        "openssl x509 -req -in server.csr -text -days 365 -CA server-ca.crt -CAkey server-ca.key -CAcreateserial "
        "-out server.crt",
    )
    return _files(directory, (endpoint,))


def _system_openssl_cnf() -> str:
    """The text of the default openssl.cnf (the documented procedure copies /etc/pki/tls/openssl.cnf, CentOS' path)."""
    candidates = [Path("/etc/pki/tls/openssl.cnf"), Path("/etc/ssl/openssl.cnf")]
    completed = subprocess.run(
        [require_openssl(), "version", "-d"], capture_output=True, text=True, check=False, timeout=30
    )
    match = re.search(r'OPENSSLDIR: "([^"]*)"', completed.stdout)
    if match:
        candidates.insert(0, Path(match.group(1)) / "openssl.cnf")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    return "[ req ]\ndistinguished_name = req_distinguished_name\n\n[ req_distinguished_name ]\n"


def _edit_openssl_cnf(text: str, endpoints: Sequence[str]) -> str:
    """Apply the documented procedure's edits, plus a prompt-less DN standing in for the interactive answers."""
    req_additions = [
        "# Add to the end of the [ req ] section",
        "req_extensions = v3_req",
        "# (tests) answer the CSR prompts from a section instead of a terminal",
        "prompt = no",
        "distinguished_name = procedure_answers",
        "attributes = procedure_attributes",
    ]
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"^\s*\[\s*req\s*\]", line)), None)
    if start is None:
        lines += ["[ req ]", *req_additions]
    else:
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
        lines[end:end] = [*req_additions, ""]
    alt_names = [f"DNS.{n} = {endpoint}" for n, endpoint in enumerate(endpoints, start=1)]
    lines += [
        "",
        "# Add a new [ v3_req ] section",
        "[ v3_req ]",
        "basicConstraints = CA:FALSE",
        "keyUsage = nonRepudiation, digitalSignature, keyEncipherment",
        "subjectAltName = @alt_names",
        "# Add a new [ alt_names ] section — list each endpoint as a DNS entry",
        "[ alt_names ]",
        *alt_names,
        "",
        "[ procedure_answers ]",
        *(f"{name} = {value}" for name, value in PROCEDURE_DN.items()),
        "",
        "# challenge password and optional company name: left blank, as the documented procedure says",
        "[ procedure_attributes ]",
        "",
    ]
    return "\n".join(lines)


def procedure_san(directory: Path, endpoints: Sequence[str] = PROCEDURE_SAN_ENDPOINTS) -> ProcedureFiles:
    """The documented procedure's "Multiple endpoints (Subject Alternative Names)" commands in ``directory``.

    The copied config lives in ``directory`` instead of ``/tmp`` so parallel tests do not share it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _create_procedure_ca(directory)
    # 2. Copy the default OpenSSL config to a temp file, then edit it as the documented procedure says
    cnf = directory / "openssl.cnf"
    cnf.write_text(_edit_openssl_cnf(_system_openssl_cnf(), endpoints))
    # 3. Create a CSR and server private key using the updated config
    _run(directory, "openssl req -new -nodes -text -out server.csr -keyout server.key", "-config", str(cnf))
    # 4. Sign the CSR with the CA, including the SAN extensions
    _run(
        directory,
        "openssl x509 -req -in server.csr -text -days 365 -CA server-ca.crt -CAkey server-ca.key -CAcreateserial "
        "-out server.crt -extensions v3_req",
        "-extfile",
        str(cnf),
    )
    return _files(directory, tuple(endpoints), cnf)


# --- bad cases ------------------------------------------------------------------------------------------


def load_authority(ca_cert: Path, ca_key: Path) -> CertificateAuthority:
    """The documented procedure's CA files as a CertificateAuthority, to sign the bad cases with the same CA."""
    return CertificateAuthority(
        certificate=load_certificate(ca_cert.read_bytes()), private_key=load_private_key(ca_key.read_bytes()).key
    )


def encrypted_key_pkcs8(key_pem: bytes | str, passphrase: bytes = PASSPHRASE) -> bytes:
    """The same key as ``-----BEGIN ENCRYPTED PRIVATE KEY-----`` (``openssl pkey -aes256``)."""
    key = load_private_key(key_pem).key
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def encrypted_key_legacy(key_pem: bytes | str, passphrase: bytes = PASSPHRASE) -> bytes:
    """The same key as legacy PEM encryption: ``BEGIN RSA PRIVATE KEY`` with ``Proc-Type: 4,ENCRYPTED``."""
    key = load_private_key(key_pem).key
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(passphrase),
    )


def pkcs1_key(key_pem: bytes | str) -> bytes:
    """The same key as PKCS#1 ``-----BEGIN RSA PRIVATE KEY-----`` (``openssl pkey -traditional``)."""
    key = load_private_key(key_pem).key
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def foreign_key(now: datetime, key_type: KeyType = KeyType.RSA_2048) -> bytes:
    """The private key of another, unrelated certificate (unencrypted PKCS#8)."""
    other_ca = CertificateAuthority.create("another-ca", now=now, key_type=key_type)
    return other_ca.issue_server_certificate([OTHER_HOST], now=now, key_type=key_type).key_pem().encode()


def expired_certificate(authority: CertificateAuthority, endpoints: Sequence[str], now: datetime) -> IssuedCertificate:
    """A certificate for ``endpoints`` by ``authority`` that expired 30 days before ``now``."""
    return authority.issue_server_certificate(list(endpoints), now=now - timedelta(days=395), days=365)


def certificate_for_other_host(
    authority: CertificateAuthority, now: datetime, host: str = OTHER_HOST
) -> IssuedCertificate:
    """A valid certificate by ``authority`` that names only ``host``."""
    return authority.issue_server_certificate([host], now=now)


def crlf_rewrapped(pem: bytes | str, width: int = 76) -> bytes:
    """Every PEM block of ``pem`` with its base64 re-wrapped at ``width`` and CRLF line ends (same DER)."""
    out = []
    for block in find_pem_blocks(pem):
        body = base64.b64encode(block.der).decode("ascii")
        lines = [body[i : i + width] for i in range(0, len(body), width)]
        out.append("\r\n".join([f"-----BEGIN {block.label}-----", *lines, f"-----END {block.label}-----"]))
    return ("\r\n".join(out) + "\r\n").encode("ascii")


def one_line(pem: bytes | str) -> bytes:
    """Every PEM block on a single line, as the API documentation's examples print it."""
    out = []
    for block in find_pem_blocks(pem):
        body = base64.b64encode(block.der).decode("ascii")
        out.append(f"-----BEGIN {block.label}----- {body} -----END {block.label}-----")
    return "\n".join(out).encode("ascii")


def write(path: Path, data: bytes | str) -> Path:
    """Write a test input; anything holding a private key gets mode 0600 as real key files would."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    mode = 0o600 if b"PRIVATE KEY" in content else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return path

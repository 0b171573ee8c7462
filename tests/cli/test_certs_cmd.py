"""``rdsssl-reconcile certs``: acceptance 1, 2 and 5 of issue 5, through the real command line.

Acceptance 1: ca create + issue with two endpoints give files that real openssl accepts and that serve a
real TLS handshake with hostname checking for each endpoint (and fail for another name and another CA).
Acceptance 2: the documented procedure's literal openssl outputs pass ``certs check``; each bad case gets its finding.
Acceptance 5: key files are 0600, never overwritten without --force, and no command prints key material.
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from tests.cli.conftest import TWO_ENDPOINTS, IssuedFiles, Ran, run_cli
from tests.support import openssl_procedure as procedure
from tests.support.openssl_procedure import ProcedureFiles, require_openssl, write
from tests.support.tls import handshake

KEY_ARMOR = re.compile(r"-----(BEGIN|END) [A-Z ]*PRIVATE KEY-----")


def key_body(path: Path) -> str:
    """The base64 body of a key file (no armor, no RFC 1421 headers)."""
    lines = path.read_text().splitlines()
    return "".join(line.strip() for line in lines if line.strip() and "-----" not in line and ":" not in line)


def assert_no_key_material(text: str, *key_files: Path) -> None:
    assert not KEY_ARMOR.search(text), "a private key header was printed"
    for key_file in key_files:
        body = key_body(key_file)
        assert len(body) > 100
        leaked = [i for i in range(len(body) - 39) if body[i : i + 40] in text]
        assert not leaked, f"a 40-character slice of {key_file.name} was printed"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def check_args(cert: Path, key: Path | None, ca: Path | None, endpoints: tuple[str, ...]) -> list[str | Path]:
    args: list[str | Path] = ["certs", "check", "--cert", cert]
    if key is not None:
        args += ["--key", key]
    if ca is not None:
        args += ["--ca", ca]
    for endpoint in endpoints:
        args += ["--endpoint", endpoint]
    return args


def line_of(result: Ran, code: str) -> str:
    """The line ``certs check`` printed for check ``code``."""
    for line in result.out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] == code:
            return line
    raise AssertionError(f"no line for {code!r} in:\n{result.out}")


# --- acceptance 1 ---------------------------------------------------------------------------------------


def test_ca_create_and_issue_write_the_procedure_files(made_by_cli: IssuedFiles) -> None:
    assert sorted(p.name for p in made_by_cli.ca_dir.iterdir()) == ["server-ca.crt", "server-ca.key"]
    assert sorted(p.name for p in made_by_cli.server_dir.iterdir()) == ["server.crt", "server.csr", "server.key"]
    assert made_by_cli.server_key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert made_by_cli.ca_key.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert made_by_cli.server_csr.read_text().startswith("-----BEGIN CERTIFICATE REQUEST-----\n")
    issued_output = made_by_cli.outputs[1].out
    for endpoint in TWO_ENDPOINTS:
        assert endpoint in issued_output
    assert "sha256" in issued_output
    assert "Checked: every check passes" in issued_output


def test_openssl_verify_accepts_the_issued_certificate(made_by_cli: IssuedFiles) -> None:
    openssl = require_openssl()
    verified = subprocess.run(
        [openssl, "verify", "-CAfile", made_by_cli.ca_cert, made_by_cli.server_cert],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip().endswith(": OK")
    csr = subprocess.run(
        [openssl, "req", "-in", made_by_cli.server_csr, "-noout", "-verify"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert csr.returncode == 0, csr.stderr


def test_openssl_x509_text_shows_both_sans_and_the_procedure_extensions(made_by_cli: IssuedFiles) -> None:
    text = subprocess.run(
        [require_openssl(), "x509", "-in", made_by_cli.server_cert, "-noout", "-text"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert f"DNS:{TWO_ENDPOINTS[0]}, DNS:{TWO_ENDPOINTS[1]}" in text
    assert "CA:FALSE" in text
    assert "Digital Signature, Non Repudiation, Key Encipherment" in text
    assert "TLS Web Server Authentication" in text
    assert f"Subject: CN = {TWO_ENDPOINTS[0]}" in text


@pytest.mark.parametrize("endpoint", TWO_ENDPOINTS)
def test_tls_handshake_with_hostname_checking_succeeds_for_each_endpoint(
    made_by_cli: IssuedFiles, endpoint: str
) -> None:
    version = handshake(
        cert_file=made_by_cli.server_cert,
        key_file=made_by_cli.server_key,
        ca_file=made_by_cli.ca_cert,
        server_hostname=endpoint,
    )
    assert version.startswith("TLS")


def test_tls_handshake_fails_for_another_name(made_by_cli: IssuedFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"Hostname mismatch|doesn't match"):
        handshake(
            cert_file=made_by_cli.server_cert,
            key_file=made_by_cli.server_key,
            ca_file=made_by_cli.ca_cert,
            server_hostname="pgm-someone-else.pg.rds.aliyuncs.com",
        )


def test_tls_handshake_fails_for_another_ca(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    other = run_cli("certs", "ca", "create", "--cn", "root-server-ca", "--out", tmp_path, "--key-type", "ec-p256")
    assert other.code == 0, other.output
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        handshake(
            cert_file=made_by_cli.server_cert,
            key_file=made_by_cli.server_key,
            ca_file=tmp_path / "server-ca.crt",
            server_hostname=TWO_ENDPOINTS[0],
        )


def test_issued_files_pass_certs_check(made_by_cli: IssuedFiles) -> None:
    result = run_cli(*check_args(made_by_cli.server_cert, made_by_cli.server_key, made_by_cli.ca_cert, TWO_ENDPOINTS))
    assert result.code == 0, result.output
    assert "OK: no errors" in result.out
    assert "pass  chain" in result.out


# --- acceptance 2 ---------------------------------------------------------------------------------------


def test_procedure_single_endpoint_files_pass_certs_check(procedure_single: ProcedureFiles) -> None:
    result = run_cli(
        *check_args(
            procedure_single.server_cert,
            procedure_single.server_key,
            procedure_single.ca_cert,
            procedure_single.endpoints,
        )
    )
    assert result.code == 0, result.output
    assert "ignored" in line_of(result, "pem-found")  # the -text dump
    assert "X.509 v1" in line_of(result, "chain")
    assert "FAIL" not in result.out


def test_procedure_san_files_pass_certs_check(procedure_multi: ProcedureFiles) -> None:
    result = run_cli(
        *check_args(
            procedure_multi.server_cert, procedure_multi.server_key, procedure_multi.ca_cert, procedure_multi.endpoints
        )
    )
    assert result.code == 0, result.output
    assert line_of(result, "covers-endpoints").split()[0] == "pass"


NOW = datetime.now(UTC)

#: name -> (makes (cert PEM, key PEM) from the documented procedure files, expected exit code, check code, outcome word, text)
BadCase = Callable[[ProcedureFiles], tuple[bytes, bytes]]
BAD_CASES: dict[str, tuple[BadCase, int, str, str, str]] = {
    "encrypted-pkcs8-key": (
        lambda f: (f.server_cert.read_bytes(), procedure.encrypted_key_pkcs8(f.server_key.read_bytes())),
        1, "key-unencrypted", "FAIL", "openssl pkey -in server.key -out server-nopass.key",
    ),
    "encrypted-legacy-key": (
        lambda f: (f.server_cert.read_bytes(), procedure.encrypted_key_legacy(f.server_key.read_bytes())),
        1, "key-unencrypted", "FAIL", "Proc-Type",
    ),
    "foreign-key": (
        lambda f: (f.server_cert.read_bytes(), procedure.foreign_key(NOW)),
        1, "key-matches", "FAIL", "another certificate",
    ),
    "expired-certificate": (
        lambda f: _pair(procedure.expired_certificate(procedure.load_authority(f.ca_cert, f.ca_key), f.endpoints, NOW)),
        1, "not-expired", "FAIL", "expired on",
    ),
    "certificate-for-another-host": (
        lambda f: _pair(procedure.certificate_for_other_host(procedure.load_authority(f.ca_cert, f.ca_key), NOW)),
        1, "covers-endpoints", "FAIL", procedure.PROCEDURE_ENDPOINT,
    ),
    "pkcs1-key": (
        lambda f: (f.server_cert.read_bytes(), procedure.pkcs1_key(f.server_key.read_bytes())),
        0, "key-pkcs8", "warn", "converted to PKCS#8",
    ),
    "crlf-rewrapped-certificate": (
        lambda f: (procedure.crlf_rewrapped(f.server_cert.read_bytes(), width=64), f.server_key.read_bytes()),
        0, "pem-found", "pass", "1 certificate",
    ),
}  # fmt: skip


def _pair(issued: object) -> tuple[bytes, bytes]:
    return issued.cert_pem().encode(), issued.key_pem().encode()  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", BAD_CASES, ids=list(BAD_CASES))
def test_each_bad_case_gets_the_right_finding(case: str, procedure_single: ProcedureFiles, tmp_path: Path) -> None:
    make, expected_code, code, outcome, text = BAD_CASES[case]
    cert_pem, key_pem = make(procedure_single)
    cert_file, key_file = write(tmp_path / "server.crt", cert_pem), write(tmp_path / "server.key", key_pem)
    result = run_cli(*check_args(cert_file, key_file, procedure_single.ca_cert, procedure_single.endpoints))
    assert result.code == expected_code, result.output
    line = line_of(result, code)
    assert line.split()[0] == outcome, line
    assert text in result.out
    if expected_code:
        assert "why:" in result.out
    assert_no_key_material(result.output, key_file)


def test_check_json_output(procedure_single: ProcedureFiles, tmp_path: Path) -> None:
    key_file = write(tmp_path / "server.key", procedure.pkcs1_key(procedure_single.server_key.read_bytes()))
    args = [
        *check_args(procedure_single.server_cert, key_file, procedure_single.ca_cert, procedure_single.endpoints),
        "--format",
        "json",
    ]
    result = run_cli(*args)
    assert result.code == 0, result.output
    data = json.loads(result.out)
    assert data["ok"] is True
    assert data["key_needs_conversion"] is True
    assert data["certificate"]["common_name"] == procedure.PROCEDURE_ENDPOINT
    assert {r["code"]: r["outcome"] for r in data["results"]}["key-pkcs8"] == "warn"
    assert_no_key_material(result.output, key_file)


def test_instance_endpoint_warning(made_by_cli: IssuedFiles) -> None:
    args = check_args(made_by_cli.server_cert, None, None, TWO_ENDPOINTS)
    result = run_cli(*args, "--instance-endpoint", "pgm-bp1abc.pgsql.rds.aliyuncs.com")
    assert result.code == 0
    assert line_of(result, "covers-instance-endpoints").split()[0] == "warn"
    assert "1 warning" in result.out


# --- acceptance 5 ---------------------------------------------------------------------------------------


def test_key_files_are_0600_and_public_files_0644(made_by_cli: IssuedFiles) -> None:
    assert mode(made_by_cli.ca_key) == 0o600
    assert mode(made_by_cli.server_key) == 0o600
    assert mode(made_by_cli.ca_cert) == 0o644
    assert mode(made_by_cli.server_cert) == 0o644
    assert mode(made_by_cli.server_csr) == 0o644


def test_ca_create_never_overwrites_without_force(tmp_path: Path) -> None:
    assert run_cli("certs", "ca", "create", "--cn", "first", "--out", tmp_path, "--key-type", "ec-p256").code == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = run_cli("certs", "ca", "create", "--cn", "second", "--out", tmp_path, "--key-type", "ec-p256")
    assert again.code == 1
    assert "refusing to overwrite" in again.err
    assert "server-ca.key" in again.err
    assert "server-ca.crt" in again.err
    assert "(replace with --force, or write elsewhere)" in again.err
    assert "--force-export" not in again.err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    forced = run_cli("certs", "ca", "create", "--cn", "second", "--out", tmp_path, "--key-type", "ec-p256", "--force")
    assert forced.code == 0, forced.output
    assert (tmp_path / "server-ca.key").read_bytes() != before["server-ca.key"]
    assert mode(tmp_path / "server-ca.key") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server-ca.crt", "server-ca.key"]


def test_issue_refuses_when_any_output_exists_and_writes_nothing(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    (tmp_path / "server.crt").write_text("an old certificate")
    result = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.ca_cert, "--ca-key", made_by_cli.ca_key,
        "--endpoint", TWO_ENDPOINTS[0], "--out", tmp_path, "--key-type", "ec-p256",
    )  # fmt: skip
    assert result.code == 1
    assert "server.crt" in result.err
    assert not (tmp_path / "server.key").exists()
    assert (tmp_path / "server.crt").read_text() == "an old certificate"
    forced = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.ca_cert, "--ca-key", made_by_cli.ca_key,
        "--endpoint", TWO_ENDPOINTS[0], "--out", tmp_path, "--key-type", "ec-p256", "--force",
    )  # fmt: skip
    assert forced.code == 0, forced.output
    assert mode(tmp_path / "server.key") == 0o600
    assert_no_key_material(forced.output, tmp_path / "server.key", made_by_cli.ca_key)


def test_no_command_prints_key_material(
    made_by_cli: IssuedFiles, procedure_single: ProcedureFiles, tmp_path: Path
) -> None:
    pkcs1 = write(tmp_path / "pkcs1.key", procedure.pkcs1_key(made_by_cli.server_key.read_bytes()))
    encrypted = write(tmp_path / "encrypted.key", procedure.encrypted_key_legacy(made_by_cli.server_key.read_bytes()))
    keys = (made_by_cli.server_key, made_by_cli.ca_key, pkcs1, encrypted, procedure_single.server_key)
    runs = [
        *made_by_cli.outputs,
        run_cli("certs", "inspect", *keys, made_by_cli.server_cert, made_by_cli.server_csr),
        run_cli("certs", "inspect", "--format", "json", *keys),
        run_cli(*check_args(made_by_cli.server_cert, pkcs1, made_by_cli.ca_cert, TWO_ENDPOINTS)),
        run_cli(*check_args(made_by_cli.server_cert, encrypted, None, TWO_ENDPOINTS), "--format", "json"),
        run_cli(*check_args(made_by_cli.server_key, made_by_cli.server_cert, None, TWO_ENDPOINTS)),  # swapped
        run_cli(
            "certs",
            "issue",
            "--ca-cert",
            made_by_cli.ca_cert,
            "--ca-key",
            encrypted,
            "--endpoint",
            "x.example.com",
            "--out",
            tmp_path / "never",
        ),
    ]
    for ran in runs:
        assert_no_key_material(ran.output, *keys)
    assert not (tmp_path / "never").exists()


# --- inspect ----------------------------------------------------------------------------------------------


def test_inspect_procedure_text_output_chain_csr_and_keys(
    procedure_single: ProcedureFiles, made_by_cli: IssuedFiles, tmp_path: Path
) -> None:
    chain = write(tmp_path / "chain.pem", made_by_cli.server_cert.read_bytes() + made_by_cli.ca_cert.read_bytes())
    encrypted = write(tmp_path / "enc.key", procedure.encrypted_key_pkcs8(procedure_single.server_key.read_bytes()))
    result = run_cli(
        "certs",
        "inspect",
        procedure_single.server_cert,
        procedure_single.server_csr,
        chain,
        encrypted,
        procedure_single.server_key,
    )
    assert result.code == 0, result.output
    out = result.out
    assert "CN=pgm-bpxxxxx.pg.rds.aliyuncs.com" in out
    assert "X.509 v1" in out
    assert "certificate signing request" in out
    assert "certificate (leaf) 1 of 2" in out
    assert "certificate (chain 2) 2 of 2" in out
    assert f"SANs       {TWO_ENDPOINTS[0]}, {TWO_ENDPOINTS[1]}" in out
    assert "days left" in out
    assert "private key (encrypted)" in out
    assert "passphrase" in out
    assert "RSA 2048" in out
    assert "public key sha256" in out


def test_inspect_json(made_by_cli: IssuedFiles) -> None:
    result = run_cli("certs", "inspect", "--format", "json", made_by_cli.server_cert, made_by_cli.server_key)
    assert result.code == 0
    files = json.loads(result.out)["files"]
    cert = files[0]["blocks"][0]
    assert cert["kind"] == "certificate"
    assert cert["certificate"]["dns_names"] == list(TWO_ENDPOINTS)
    assert 364 <= cert["days_left"] <= 366
    key = files[1]["blocks"][0]
    assert key["kind"] == "private-key"
    assert set(key["key"]) == {"key_type", "key_size", "public_key_sha256"}


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.crt", "does not exist"),
        (lambda d: d, "is a directory"),
        (lambda d: write(d / "notes.txt", "hello, this is not a certificate"), "is not PEM"),
        (lambda d: write(d / "broken.crt", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"), "base64"),
    ],
    ids=["missing", "directory", "not-pem", "broken-base64"],
)
def test_bad_input_is_a_clear_error_naming_the_file(make: Callable[[Path], Path], message: str, tmp_path: Path) -> None:
    path = make(tmp_path)
    for args in (["certs", "inspect", path], check_args(path, None, None, ("db.example.com",))):
        result = run_cli(*args)
        assert result.code == 1
        assert message in result.err
        assert str(path) in result.err
        assert "Traceback" not in result.output
        assert "Internal error" not in result.output


def test_issue_rejects_a_ca_key_of_another_ca(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    assert run_cli("certs", "ca", "create", "--cn", "x", "--out", tmp_path / "x", "--key-type", "ec-p256").code == 0
    result = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.ca_cert, "--ca-key", tmp_path / "x" / "server-ca.key",
        "--endpoint", "db.example.com", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 1
    assert "does not belong to the CA certificate" in result.err
    assert not (tmp_path / "out").exists()


def test_issue_rejects_a_server_certificate_as_ca(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    result = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.server_cert, "--ca-key", made_by_cli.server_key,
        "--endpoint", "db.example.com", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 1
    assert "is not a CA certificate" in result.err


@pytest.mark.parametrize("endpoint", ["", "has space.example.com", "bad_label!.example.com", "-x.example.com"])
def test_issue_rejects_invalid_endpoints(made_by_cli: IssuedFiles, tmp_path: Path, endpoint: str) -> None:
    result = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.ca_cert, "--ca-key", made_by_cli.ca_key,
        "--endpoint", endpoint, "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 1
    assert "is not a host name or IP address" in result.err


def test_usage_errors_exit_1() -> None:
    result = run_cli("certs", "issue", "--endpoint", "x.example.com")
    assert result.code == 1
    assert "Missing option" in result.err


# --- the installed console script -------------------------------------------------------------------------


def _console_script() -> list[str]:
    beside_python = Path(sys.executable).parent / "rdsssl-reconcile"
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("rdsssl-reconcile")
    return [found] if found else [sys.executable, "-m", "rdsssl_reconcile"]


def test_console_script_end_to_end(procedure_multi: ProcedureFiles, tmp_path: Path) -> None:
    """One real process per outcome: the exit code and output a shell user sees."""
    passing = subprocess.run(
        [*_console_script(), *map(str, check_args(procedure_multi.server_cert, procedure_multi.server_key, procedure_multi.ca_cert, procedure_multi.endpoints))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "OK: no errors" in passing.stdout
    encrypted = write(tmp_path / "server.key", procedure.encrypted_key_pkcs8(procedure_multi.server_key.read_bytes()))
    failing = subprocess.run(
        [*_console_script(), *map(str, check_args(procedure_multi.server_cert, encrypted, None, procedure_multi.endpoints))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert failing.returncode == 1
    assert "FAIL  key-unencrypted" in failing.stdout
    assert_no_key_material(failing.stdout + failing.stderr, encrypted, procedure_multi.server_key)
    missing = subprocess.run(
        [*_console_script(), "certs", "inspect", str(tmp_path / "nope.pem")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_ca_create_rejects_a_cn_too_long_and_absurd_validity(tmp_path: Path) -> None:
    too_long = run_cli("certs", "ca", "create", "--cn", "x" * 65, "--out", tmp_path)
    assert too_long.code == 1
    assert "64 characters" in too_long.err
    absurd = run_cli("certs", "ca", "create", "--cn", "ok", "--out", tmp_path, "--days", "1000000000")
    assert absurd.code == 1
    assert "Internal error" not in absurd.output
    assert list(tmp_path.iterdir()) == []


# -- odd inputs get a message, never an internal error -----------------------------------------------


def test_issue_refuses_a_ca_that_may_not_sign(tmp_path: Path) -> None:
    from tests.pki.builders import key_usage, make_cert

    ca = make_cert(cn="no-sign-ca", ca=True, usage=key_usage(digital_signature=True), not_after=datetime(2035, 1, 1))
    write(tmp_path / "ca.crt", ca.cert_pem())
    write(tmp_path / "ca.key", ca.key_pem())
    result = run_cli(
        "certs", "issue", "--ca-cert", tmp_path / "ca.crt", "--ca-key", tmp_path / "ca.key",
        "--endpoint", "db.example.com", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 1, result.err
    assert "may not sign certificates: its keyUsage lacks keyCertSign" in result.err
    assert not (tmp_path / "out").exists()


def test_issue_refuses_look_alike_unicode_endpoints(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    result = run_cli(
        "certs", "issue", "--ca-cert", made_by_cli.ca_cert, "--ca-key", made_by_cli.ca_key,
        "--endpoint", "\u212a.example.com", "--out", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 1
    assert "is not a host name or IP address" in result.err
    assert "Internal error" not in result.err


def test_file_name_too_long_is_a_plain_error(tmp_path: Path) -> None:
    result = run_cli("certs", "inspect", tmp_path / ("a" * 300))
    assert result.code == 1
    assert "File name too long" in result.err
    assert "Internal error" not in result.err


def test_unsupported_curve_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    require_openssl()
    key, crt = tmp_path / "p192.key", tmp_path / "p192.crt"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime192v2", "-out", key], check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-subj", "/CN=db.example.com", "-days", "10", "-out", crt], check=True, capture_output=True)  # fmt: skip
    result = run_cli("certs", "check", "--cert", crt, "--key", key, "--endpoint", "db.example.com")
    assert result.code == 1, result.err
    assert "has a public key of an unsupported algorithm or curve" in result.out
    assert "uses an algorithm or curve that is not supported" in result.out
    assert "Internal error" not in result.err


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("db.example.com.", "ends with a dot: libpq compares the host exactly as clients write it"),
        ("fe80::1%eth0", "has an IPv6 zone (%...), which a certificate cannot hold"),
    ],
)
def test_endpoints_libpq_would_never_match_are_refused(
    made_by_cli: IssuedFiles, tmp_path: Path, endpoint: str, message: str
) -> None:
    result = run_cli(
        "certs", "check", "--cert", made_by_cli.server_cert, "--key", made_by_cli.server_key, "--endpoint", endpoint
    )
    assert result.code == 1
    assert message in result.err


def test_trusted_certificate_ca_file_is_read(made_by_cli: IssuedFiles, tmp_path: Path) -> None:
    # `openssl x509 -trustout` writes BEGIN TRUSTED CERTIFICATE (trust settings after the certificate),
    # which libpq accepts as sslrootcert.
    require_openssl()
    trusted = tmp_path / "trusted.pem"
    subprocess.run(
        ["openssl", "x509", "-in", made_by_cli.ca_cert, "-trustout", "-addtrust", "serverAuth", "-out", trusted],
        check=True,
        capture_output=True,
    )
    assert trusted.read_text().startswith("-----BEGIN TRUSTED CERTIFICATE-----")
    result = run_cli(
        "certs", "check", "--cert", made_by_cli.server_cert, "--key", made_by_cli.server_key, "--ca", trusted,
        "--endpoint", TWO_ENDPOINTS[0],
    )  # fmt: skip
    assert result.code == 0, result.out
    assert re.search(r"pass\s+chain\s+verifies to", result.out)


def test_ca_create_defaults_to_the_documented_ca_name(tmp_path: Path) -> None:
    # "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance": -subj "/CN=root-server-ca".
    assert run_cli("certs", "ca", "create", "--out", tmp_path, "--key-type", "ec-p256").code == 0
    ca = x509.load_pem_x509_certificate((tmp_path / "server-ca.crt").read_bytes())
    assert ca.subject.rfc4514_string() == "CN=root-server-ca"

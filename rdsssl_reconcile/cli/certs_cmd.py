"""``rdsssl-reconcile certs``: the openssl steps of
"Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance" as commands, plus inspection and checks.

* ``certs ca create``  = the documented ``openssl req -new -x509 -nodes ... -subj /CN=root-server-ca``
* ``certs issue``      = the documented CSR + ``openssl x509 -req`` with every endpoint as a DNS SAN
* ``certs inspect``    = ``openssl x509/req/crl/pkey -noout -text``, but safe to paste: keys show only their
  type, size and public-key fingerprint
* ``certs check``      = every check of :mod:`rdsssl_reconcile.pki.checks`, one line each

This module is the edge: it reads and writes files (keys through :mod:`rdsssl_reconcile.secretfiles`,
0600 from creation, never overwritten without ``--force``) and reads the clock; everything else is in
``pki``. Bad input raises :class:`~rdsssl_reconcile.errors.UserError`, which ``cli.run`` prints without a
traceback. Nothing here prints key material or starts openssl. Subjects, SANs, issuers, PEM labels and
paths are printed through :func:`~rdsssl_reconcile.textsafe.visible` (a certificate can hold ESC in its
CN or a DNS SAN); ``--format json`` keeps them exact, escaped by ``json.dumps``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from rdsssl_reconcile.errors import EncryptedKeyError, PemError, UserError
from rdsssl_reconcile.pki.authority import MAX_COMMON_NAME_LENGTH, CertificateAuthority, IssuedCertificate, KeyType
from rdsssl_reconcile.pki.checks import CertificateReport, Outcome, can_sign_certificates, check_server_certificate
from rdsssl_reconcile.pki.inspection import BlockKind, InspectedBlock, inspect_pem
from rdsssl_reconcile.pki.pem import find_pem_blocks, load_certificate, load_private_key
from rdsssl_reconcile.pki.summary import (
    CertSummary,
    KeySummary,
    key_matches_certificate,
    summarize_certificate,
    summarize_private_key,
)
from rdsssl_reconcile.secretfiles import ensure_directory, refuse_existing, write_public_file, write_secret_file
from rdsssl_reconcile.textsafe import visible

#: The CA name of "Configure a custom certificate for an ApsaraDB RDS for PostgreSQL instance"
#: (``-subj "/CN=root-server-ca"``): a default, so the documented procedure needs no --cn.
DEFAULT_CA_COMMON_NAME = "root-server-ca"

#: The file names of the custom-certificate procedure.
CA_CERT_FILE = "server-ca.crt"
CA_KEY_FILE = "server-ca.key"
SERVER_KEY_FILE = "server.key"
SERVER_CSR_FILE = "server.csr"
SERVER_CERT_FILE = "server.crt"

#: Nothing we read is legitimately larger; a bigger file is the wrong file.
_MAX_INPUT_BYTES = 1024 * 1024
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# ASCII only: with IGNORECASE alone, look-alikes such as the Kelvin sign match 'k' and crash later.
_HOSTNAME = re.compile(rf"^(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}\.?$", re.IGNORECASE | re.ASCII)
_KEY_TYPES = [k.value for k in KeyType]
#: 100 years: far beyond any sensible certificate, well inside what X.509 dates can encode.
_MAX_DAYS = 36500


def _now() -> datetime:
    return datetime.now(UTC)


def _read_input(path: Path, what: str) -> bytes:
    """Read a PEM input file, or raise a UserError that names it and says what was expected."""
    if not path.exists():
        raise UserError(f"{what} file {str(path)!r} does not exist")
    if path.is_dir():
        raise UserError(f"{what} file {str(path)!r} is a directory; expected a PEM file")
    try:
        size = path.stat().st_size
        if size > _MAX_INPUT_BYTES:
            raise UserError(f"{what} file {str(path)!r} is {size} bytes; a PEM file is a few kilobytes")
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {what} file {str(path)!r}: {exc.strerror}") from None
    try:
        blocks = find_pem_blocks(data)
    except PemError as exc:
        raise UserError(f"{what} file {str(path)!r}: {exc}") from None
    if not blocks:
        raise UserError(f"{what} file {str(path)!r} is not PEM: expected a '-----BEGIN ...-----' block")
    return data


def _validate_endpoints(endpoints: Sequence[str]) -> tuple[str, ...]:
    cleaned = []
    for endpoint in endpoints:
        value = endpoint.strip()
        if not value or len(value) > 253 or not (_HOSTNAME.match(value) or _is_ip(value)):
            raise UserError(f"--endpoint {endpoint!r} is not a host name or IP address")
        if value.endswith("."):
            raise UserError(
                f"--endpoint {endpoint!r} ends with a dot: libpq compares the host exactly as clients write it, "
                f"and no certificate name matches an absolute name; expected {value.rstrip('.')!r}"
            )
        if "%" in value:
            raise UserError(
                f"--endpoint {endpoint!r} has an IPv6 zone (%...), which a certificate cannot hold; "
                f"expected the address alone ({value.split('%', 1)[0]!r})"
            )
        cleaned.append(value)
    return tuple(dict.fromkeys(cleaned))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


# --- rendering ----------------------------------------------------------------------------------------


def _days_left(summary: CertSummary, now: datetime) -> str:
    days = summary.days_left(now)
    if days < 0:
        return f"EXPIRED {-days:.0f} days ago"
    if summary.not_before > now:
        return "not yet valid"
    return f"{days:.0f} days left"


def _names(names: Sequence[str]) -> str:
    return ", ".join(visible(name) for name in names)


def _certificate_lines(summary: CertSummary, now: datetime) -> list[str]:
    names = _names((*summary.dns_names, *summary.ip_addresses)) or "- (clients fall back to the CN)"
    return [
        f"subject    {visible(summary.subject) or '(empty)'}",
        f"SANs       {names}",
        f"issuer     {visible(summary.issuer)}",
        f"serial     {summary.serial}",
        f"valid      {summary.not_before:%Y-%m-%d %H:%M:%S} UTC to {summary.not_after:%Y-%m-%d %H:%M:%S} UTC "
        f"({_days_left(summary, now)})",
        f"key        {summary.key_type} {summary.key_size}",
        f"signature  {summary.signature_hash or 'n/a'}, X.509 v{summary.version}"
        f"{', CA' if summary.is_ca else ''}{', self-signed' if summary.self_signed else ''}",
        f"sha256     {summary.sha256}",
    ]


def _key_lines(summary: KeySummary) -> list[str]:
    return [f"key        {summary.key_type} {summary.key_size}", f"public key sha256 {summary.public_key_sha256}"]


def _block_lines(block: InspectedBlock, now: datetime) -> list[str]:
    if block.certificate is not None:
        return _certificate_lines(block.certificate, now)
    if block.csr is not None:
        csr = block.csr
        return [
            f"subject    {visible(csr.subject) or '(empty)'}",
            f"SANs       {_names((*csr.dns_names, *csr.ip_addresses)) or '-'}",
            f"key        {csr.key_type} {csr.key_size}",
            f"public key sha256 {csr.public_key_sha256}",
            f"signature  {'valid' if csr.signature_valid else 'INVALID'}",
        ]
    if block.crl is not None:
        crl = block.crl
        next_update = f"{crl.next_update:%Y-%m-%d %H:%M:%S} UTC" if crl.next_update else "-"
        return [
            f"issuer     {visible(crl.issuer)}",
            f"updated    {crl.last_update:%Y-%m-%d %H:%M:%S} UTC, next update {next_update}",
            f"revoked    {crl.revoked_count}",
            f"sha256     {crl.sha256}",
        ]
    lines = _key_lines(block.key) if block.key is not None else []
    if block.key_encoding:
        lines.append(f"encoding   {block.key_encoding}{' (converted to PKCS#8 before sending)' * _needs_pkcs8(block)}")
    if block.note:
        lines.append(f"note       {visible(block.note)}")
    return lines


def _needs_pkcs8(block: InspectedBlock) -> bool:
    return block.key is not None and block.key_encoding in ("PKCS#1", "SEC1")


def _block_title(block: InspectedBlock, index: int, count: int, certificate_index: int) -> str:
    names = {
        BlockKind.CERTIFICATE: "certificate",
        BlockKind.CSR: "certificate signing request",
        BlockKind.CRL: "certificate revocation list",
        BlockKind.PRIVATE_KEY: "private key (encrypted)" if block.encrypted else "private key",
        BlockKind.PUBLIC_KEY: "public key",
        BlockKind.OTHER: f"{visible(block.label)} block",
    }
    title = names[block.kind]
    if block.kind is BlockKind.CERTIFICATE and count > 1:
        title += " (leaf)" if certificate_index == 1 else f" (chain {certificate_index})"
    position = f" {index} of {count}" if count > 1 else ""
    return f"{title}{position}, line {block.line}"


def _echo_written(path: Path, lines: Sequence[str]) -> None:
    click.echo(f"Wrote {visible(str(path))}")
    for line in lines:
        click.echo(f"  {line}")


# --- commands -----------------------------------------------------------------------------------------


@click.group()
def certs() -> None:
    """Create CAs, issue, inspect and check certificates (no openssl needed).

    The files are those of "Configure a custom certificate for an ApsaraDB RDS for
    PostgreSQL instance": server-ca.crt/.key, server.key/.csr/.crt. Keys are written
    unencrypted in PKCS#8 (as RDS requires) with mode 0600, and never printed.
    """


@certs.group("ca")
def ca_group() -> None:
    """Certificate authorities that sign server certificates."""


_force_option = click.option("--force", is_flag=True, help="Replace existing output files (atomically, keys 0600).")
_key_type_option = click.option(
    "--key-type",
    type=click.Choice(_KEY_TYPES),
    default=KeyType.RSA_2048.value,
    show_default=True,
    help="Key algorithm and size.",
)
_out_option = click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (created with mode 0700 if missing).",
)


@ca_group.command("create")
@click.option(
    "--cn",
    "common_name",
    default=DEFAULT_CA_COMMON_NAME,
    show_default=True,
    help="Common name of the CA (the custom-certificate procedure always uses root-server-ca).",
)
@_out_option
@click.option(
    "--days", type=click.IntRange(min=1, max=_MAX_DAYS), default=3650, show_default=True, help="Validity in days."
)
@_key_type_option
@_force_option
def ca_create(common_name: str, out_dir: Path, days: int, key_type: str, force: bool) -> None:
    """Create a self-signed CA: server-ca.crt and server-ca.key (the custom-certificate procedure's CA).

    Equivalent to `openssl req -new -x509 -days N -nodes -out server-ca.crt -keyout server-ca.key
    -subj "/CN=NAME"`, with basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign.
    """
    if not common_name.strip():
        raise UserError("--cn must not be empty")
    if len(common_name.strip()) > MAX_COMMON_NAME_LENGTH:
        raise UserError(f"--cn {common_name!r} is longer than the {MAX_COMMON_NAME_LENGTH} characters a CN can hold")
    cert_path, key_path = out_dir / CA_CERT_FILE, out_dir / CA_KEY_FILE
    refuse_existing([key_path, cert_path], force=force)
    authority = CertificateAuthority.create(common_name.strip(), now=_now(), days=days, key_type=KeyType(key_type))
    ensure_directory(out_dir)
    write_secret_file(key_path, authority.key_pem(), force=force)
    write_public_file(cert_path, authority.cert_pem(), force=force)
    _echo_written(
        key_path, ["private key of the CA, mode 0600", *_key_lines(summarize_private_key(authority.private_key))]
    )
    _echo_written(cert_path, _certificate_lines(summarize_certificate(authority.certificate), _now()))
    click.echo(
        f"Keep {visible(str(key_path))} secret and offline if you can; clients need only {visible(str(cert_path))}."
    )


def _load_authority(ca_cert: Path, ca_key: Path, now: datetime) -> CertificateAuthority:
    cert_text = _read_input(ca_cert, "CA certificate")
    key_text = _read_input(ca_key, "CA key")
    try:
        certificate = load_certificate(cert_text, what=f"CA certificate file {str(ca_cert)!r}")
    except PemError as exc:
        raise UserError(str(exc)) from None
    try:
        loaded = load_private_key(key_text, what=f"CA key file {str(ca_key)!r}")
    except EncryptedKeyError:
        raise UserError(
            f"the CA key file {str(ca_key)!r} is encrypted with a passphrase; certs issue needs it unencrypted "
            "(decrypt a copy with `openssl pkey -in CA.key -out CA-nopass.key` and keep it mode 0600)"
        ) from None
    except PemError as exc:
        raise UserError(str(exc)) from None
    if not key_matches_certificate(loaded.key, certificate):
        raise UserError(f"the CA key {str(ca_key)!r} does not belong to the CA certificate {str(ca_cert)!r}")
    summary = summarize_certificate(certificate)
    if not (summary.is_ca or (summary.version == 1 and summary.self_signed)):
        raise UserError(f"{str(ca_cert)!r} is not a CA certificate ({summary.subject}); use server-ca.crt")
    if not can_sign_certificates(certificate):
        raise UserError(
            f"{str(ca_cert)!r} ({summary.subject}) may not sign certificates: its keyUsage lacks keyCertSign, "
            "so clients would refuse what it signs; expected a CA certificate with keyCertSign"
        )
    if not summary.not_before <= now <= summary.not_after:
        raise UserError(
            f"the CA certificate {str(ca_cert)!r} is not valid now (valid {summary.not_before:%Y-%m-%d} to "
            f"{summary.not_after:%Y-%m-%d}); certificates it signs would be refused"
        )
    return CertificateAuthority(certificate=certificate, private_key=loaded.key)


@certs.command("issue")
@click.option("--ca-cert", required=True, type=click.Path(path_type=Path), help="The CA certificate (server-ca.crt).")
@click.option("--ca-key", required=True, type=click.Path(path_type=Path), help="The CA private key (server-ca.key).")
@click.option(
    "--endpoint",
    "endpoints",
    required=True,
    multiple=True,
    help="An endpoint to protect; repeat for each. Every one becomes a DNS SAN, the first also the CN.",
)
@_out_option
@click.option(
    "--days", type=click.IntRange(min=1, max=_MAX_DAYS), default=365, show_default=True, help="Validity in days."
)
@_key_type_option
@_force_option
def issue(
    ca_cert: Path, ca_key: Path, endpoints: tuple[str, ...], out_dir: Path, days: int, key_type: str, force: bool
) -> int:
    """Issue a server key, CSR and certificate signed by the CA (the procedure's server certificate).

    Writes server.key (unencrypted PKCS#8, mode 0600), server.csr and server.crt with basicConstraints
    CA:FALSE, keyUsage nonRepudiation, digitalSignature, keyEncipherment, extendedKeyUsage serverAuth, and
    every --endpoint as a DNS SAN.
    """
    hosts = _validate_endpoints(endpoints)
    now = _now()
    authority = _load_authority(ca_cert, ca_key, now)
    paths = [out_dir / SERVER_KEY_FILE, out_dir / SERVER_CSR_FILE, out_dir / SERVER_CERT_FILE]
    refuse_existing(paths, force=force)
    issued = authority.issue_server_certificate(hosts, now=now, days=days, key_type=KeyType(key_type))
    ensure_directory(out_dir)
    key_path, csr_path, cert_path = paths
    write_secret_file(key_path, issued.key_pem(), force=force)
    write_public_file(csr_path, issued.csr_pem() or "", force=force)
    write_public_file(cert_path, issued.cert_pem(), force=force)
    return _report_issued(issued, key_path, csr_path, cert_path, authority, hosts, now)


def _report_issued(
    issued: IssuedCertificate,
    key_path: Path,
    csr_path: Path,
    cert_path: Path,
    authority: CertificateAuthority,
    hosts: tuple[str, ...],
    now: datetime,
) -> int:
    """Print what was written and check it; the exit code is 1 when a check fails."""
    _echo_written(key_path, ["private key, PKCS#8, mode 0600", *_key_lines(summarize_private_key(issued.private_key))])
    _echo_written(csr_path, ["certificate signing request"])
    summary = summarize_certificate(issued.certificate)
    _echo_written(cert_path, _certificate_lines(summary, now))
    if summary.not_after > authority.certificate.not_valid_after_utc:
        click.echo(
            f"Warning: the certificate outlives its CA, which expires "
            f"{authority.certificate.not_valid_after_utc:%Y-%m-%d}; clients will refuse it after that date.",
            err=True,
        )
    ca = authority.certificate
    report = check_server_certificate(
        cert_pem=issued.cert_pem(),
        key_pem=issued.key_pem(),
        endpoints=hosts,
        now=now,
        # An intermediate CA cannot complete the chain on its own (its root is not given here).
        ca_pem=authority.cert_pem() if ca.issuer == ca.subject else None,
    )
    verdict = "every check passes" if report.ok else f"{len(report.errors)} check(s) fail"
    click.echo(
        f"Checked: {verdict} (details: rdsssl-reconcile certs check --cert {visible(str(cert_path))} "
        f"--key {visible(str(key_path))} ...)"
    )
    # The files are written either way (they may be inspected), but a script must not carry on with them.
    return 0 if report.ok else 1


@certs.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def inspect(files: tuple[Path, ...], output_format: str) -> None:
    """Show certificates, chains, CSRs, CRLs and keys in FILES (also openssl -text output).

    Certificates show subject, SANs, issuer, serial, validity, days left, key and SHA-256 fingerprint;
    keys show only their type, size and public-key fingerprint, never key material.
    """
    now = _now()
    inspected: list[tuple[Path, tuple[InspectedBlock, ...]]] = []
    for path in files:
        data = _read_input(path, "input")
        try:
            inspected.append((path, inspect_pem(data, what=f"file {str(path)!r}")))
        except PemError as exc:
            raise UserError(str(exc)) from None
    if output_format == "json":
        payload = {
            "files": [
                {
                    "path": str(path),
                    "blocks": [_block_json(block, now) for block in blocks],
                }
                for path, blocks in inspected
            ]
        }
        click.echo(json.dumps(payload, indent=2))
        return
    for file_index, (path, blocks) in enumerate(inspected):
        if file_index:
            click.echo()
        click.echo(visible(str(path)))
        certificate_index = 0
        for index, block in enumerate(blocks, start=1):
            if block.kind is BlockKind.CERTIFICATE:
                certificate_index += 1
            click.echo(f"  {_block_title(block, index, len(blocks), certificate_index)}")
            for line in _block_lines(block, now):
                click.echo(f"    {line}")


def _block_json(block: InspectedBlock, now: datetime) -> dict[str, object]:
    data = block.to_dict()
    if block.certificate is not None:
        data["days_left"] = round(block.certificate.days_left(now), 1)
    return data


_OUTCOME_WORDS = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.WARN: "warn", Outcome.SKIP: "skip"}


def _render_check(report: CertificateReport, inputs: dict[str, object]) -> None:
    for name, value in inputs.items():
        if value:
            shown = _names(value) if isinstance(value, list | tuple) else visible(str(value))
            click.echo(f"{name:<10} {shown}")
    click.echo()
    width = max(len(r.code) for r in report.results)
    for result in report.results:
        click.echo(f"  {_OUTCOME_WORDS[result.outcome]}  {result.code:<{width}}  {visible(result.message)}")
        if result.is_finding and result.why:
            click.echo(f"  {'':4}  {'':<{width}}  why: {visible(result.why)}")
    click.echo()
    errors, warnings = len(report.errors), len(report.warnings)
    if report.ok:
        tail = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        click.echo(f"OK: no errors{tail}.")
    else:
        click.echo(
            f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}: "
            "fix the errors before configuring this certificate on RDS."
        )


@certs.command("check")
@click.option(
    "--cert", "cert_file", required=True, type=click.Path(path_type=Path), help="Server certificate (server.crt)."
)
@click.option("--key", "key_file", type=click.Path(path_type=Path), help="Its private key (server.key).")
@click.option("--ca", "ca_file", type=click.Path(path_type=Path), help="The CA clients trust (server-ca.crt).")
@click.option("--endpoint", "endpoints", multiple=True, required=True, help="An endpoint to cover; repeat for each.")
@click.option(
    "--instance-endpoint",
    "instance_endpoints",
    multiple=True,
    help="Another endpoint the instance has (warn if not covered); repeat for each.",
)
@click.option("--renew-before-days", type=click.IntRange(min=0, max=_MAX_DAYS), default=30, show_default=True)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(
    cert_file: Path,
    key_file: Path | None,
    ca_file: Path | None,
    endpoints: tuple[str, ...],
    instance_endpoints: tuple[str, ...],
    renew_before_days: int,
    output_format: str,
) -> int:
    """Check a certificate, key and CA before configuring them on RDS; exit 1 on any error.

    One line per check (pass/FAIL/warn/skip) and, for failures, why it matters on RDS.
    """
    endpoints = _validate_endpoints(endpoints)
    cert_pem = _read_input(cert_file, "certificate")
    key_pem = _read_input(key_file, "key") if key_file is not None else None
    ca_pem = _read_input(ca_file, "CA certificate") if ca_file is not None else None
    report = check_server_certificate(
        cert_pem=cert_pem,
        key_pem=key_pem,
        endpoints=endpoints,
        now=_now(),
        ca_pem=ca_pem,
        renew_before_days=renew_before_days,
        instance_endpoints=instance_endpoints,
    )
    inputs: dict[str, object] = {
        "cert": str(cert_file),
        "key": str(key_file) if key_file else None,
        "ca": str(ca_file) if ca_file else None,
        "endpoints": list(endpoints),
    }
    if output_format == "json":
        click.echo(json.dumps({"inputs": inputs, **report.to_dict()}, indent=2))
    else:
        _render_check(report, inputs)
    return 0 if report.ok else 1

"""``verify`` end to end: the CLI reads the endpoints from the emulator through the SDK, then connects to
loopback servers that speak the PostgreSQL SSLRequest handshake (tests/support/pg_tls_server.py).

Each failure kind of the issue's acceptance 2 has its own message and exit code: another certificate, a
name not covered, an expired certificate, no SSL (2); a closed port, no answer to SSLRequest (1). All good
is 0, and the JSON output validates against the committed schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.pki.authority import IssuedCertificate
from rdsssl_reconcile.pki.summary import summarize_certificate
from tests.e2e.conftest import CliResult, Pki, assert_no_key_material, endpoint_of, instance_entry, write_spec
from tests.support.pg_tls_server import PgTlsServer, closed_port

pytestmark = pytest.mark.e2e

Cli = Callable[..., CliResult]
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "rdsssl_reconcile" / "verify.schema.json").read_text(encoding="utf-8")
)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., PgTlsServer]]:
    """Start a loopback server with a certificate (chain optional) and key written 0600 in tmp_path."""
    servers: list[PgTlsServer] = []

    def start(issued: IssuedCertificate | None = None, chain: str = "", **options: Any) -> PgTlsServer:
        cert_file = key_file = None
        if issued is not None:
            directory = tmp_path / f"server-{len(servers)}"
            directory.mkdir()
            cert_file, key_file = directory / "server.crt", directory / "server.key"
            cert_file.write_text(issued.cert_pem() + chain)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(issued.key_pem())
        server = PgTlsServer(cert_file=cert_file, key_file=key_file, **options).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _seed(emulator: RunningEmulator, instance_id: str, port: int, live: IssuedCertificate | None) -> None:
    """An instance whose one endpoint listens on ``port``; ``live``: its custom certificate, else SSL off."""
    ssl: dict[str, Any] = {"enabled": False}
    if live is not None:
        ssl = {
            "enabled": True,
            "ca_type": "custom",
            "endpoints": [endpoint_of(instance_id)],
            "server_cert": live.cert_pem(),
            "server_key": live.key_pem(),
        }
    emulator.admin.add_instances(
        [instance_entry(instance_id, endpoints=[{"host": endpoint_of(instance_id), "port": port}], ssl=ssl)]
    )


def _custom_spec(spec_dir: Path, instance_id: str, cert: IssuedCertificate) -> None:
    (spec_dir / f"{instance_id}.crt").write_text(cert.cert_pem())
    key = spec_dir / f"{instance_id}.key"
    key.write_text(cert.key_pem())
    key.chmod(0o600)
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: {instance_id}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of(instance_id)}]
              certificate: {{source: custom, cert: {{file: {instance_id}.crt}}, key: {{file: {instance_id}.key}}}}
        """,
        name=f"{instance_id}.yaml",
    )


def _issuer_spec(spec_dir: Path, pki: Pki, instance_id: str) -> None:
    (spec_dir / "ca.crt").write_text(pki.ca.cert_pem())
    key = spec_dir / "ca.key"
    key.write_text(pki.ca.key_pem())
    key.chmod(0o600)
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: {instance_id}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of(instance_id)}]
              certificate: {{source: issuer, ca_cert: {{file: ca.crt}}, ca_key: {{file: ca.key}}}}
        """,
        name=f"{instance_id}.yaml",
    )


def _resolve(instance_id: str, port: int) -> tuple[str, str]:
    return "--resolve", f"{endpoint_of(instance_id)}:{port}:127.0.0.1"


def _json(result: CliResult) -> dict[str, Any]:
    document = json.loads(result.out)
    jsonschema.validate(document, SCHEMA)
    return document  # type: ignore[no-any-return]


def _problems(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (f["code"], f["severity"], f["message"])
        for instance in document["instances"]
        for endpoint in instance["endpoints"]
        for f in endpoint["findings"]
        if f["severity"] != "info"
    ]


def test_all_good_reports_the_served_fingerprint_equal_to_the_specs_and_exits_0(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    cert = pki.server(endpoint_of("pgm-ok"))
    server = serve(cert, chain=pki.ca.cert_pem())
    _seed(cloud_env, "pgm-ok", server.port, cert)
    _custom_spec(spec_dir, "pgm-ok", cert)
    bundle = spec_dir.parent / "bundle.pem"
    bundle.write_text(pki.ca.cert_pem())
    args = ("verify", str(spec_dir), *_resolve("pgm-ok", server.port), "--ca-bundle", str(bundle))

    text = cli(*args)
    assert text.code == 0, text.text
    fingerprint = summarize_certificate(cert.certificate).sha256
    assert f"serves the spec's certificate (sha256 {fingerprint})" in text.out
    assert f"{endpoint_of('pgm-ok')}:{server.port} via 127.0.0.1: ok" in text.out
    assert "verifies to --ca-bundle" in text.out
    assert "Verify: 1 ok, 0 mismatch, 0 error" in text.out

    document = _json(cli(*args, "--format", "json"))
    assert document["exit_code"] == 0
    (endpoint,) = document["instances"][0]["endpoints"]
    assert endpoint["certificate"]["sha256"] == fingerprint
    assert endpoint["certificate"]["full_chain"] is True
    assert endpoint["certificate"]["chain_length"] == 2
    assert endpoint["protocol"].startswith("TLSv1.")
    assert endpoint["plain_accepted"] is False  # the test server refuses a startup without SSL
    assert_no_key_material(text.text + json.dumps(document), cert.key_pem())


def test_another_certificate_is_a_mismatch_naming_both_fingerprints(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    declared, served = pki.server(endpoint_of("pgm-other")), pki.server(endpoint_of("pgm-other"))
    server = serve(served)
    _seed(cloud_env, "pgm-other", server.port, declared)
    _custom_spec(spec_dir, "pgm-other", declared)

    result = cli("verify", str(spec_dir), *_resolve("pgm-other", server.port), "--format", "json")
    assert result.code == 2, result.err
    ((code, severity, message),) = _problems(_json(result))
    assert (code, severity) == ("other_certificate", "mismatch")
    assert f"serves another certificate: sha256 {summarize_certificate(served.certificate).sha256}" in message
    assert f"the spec's is sha256 {summarize_certificate(declared.certificate).sha256}" in message


def test_a_name_not_covered_is_a_mismatch_as_libpq_checks_names(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    # Issued by the spec's CA, and the certificate the API reports, but for another name.
    wrong = pki.server("elsewhere.example.com")
    server = serve(wrong)
    _seed(cloud_env, "pgm-name", server.port, wrong)
    _issuer_spec(spec_dir, pki, "pgm-name")

    result = cli("verify", str(spec_dir), *_resolve("pgm-name", server.port), "--format", "json")
    assert result.code == 2, result.err
    ((code, severity, message),) = _problems(_json(result))
    assert (code, severity) == ("name_not_covered", "mismatch")
    assert f"does not cover {endpoint_of('pgm-name')} as libpq verify-full checks it" in message
    assert "elsewhere.example.com" in message


def test_an_expired_certificate_is_a_mismatch_with_its_date(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    expired = pki.ca.issue_server_certificate([endpoint_of("pgm-old")], now=pki.now - timedelta(days=400), days=30)
    server = serve(expired)
    _seed(cloud_env, "pgm-old", server.port, expired)
    _issuer_spec(spec_dir, pki, "pgm-old")

    result = cli("verify", str(spec_dir), *_resolve("pgm-old", server.port))
    assert result.code == 2, result.text
    assert "MISMATCH expired: expired on " in result.out
    assert "days ago)" in result.out
    assert "other_certificate" not in result.out
    assert "name_not_covered" not in result.out


def test_a_server_without_ssl_answered_n_to_the_sslrequest(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    cert = pki.server(endpoint_of("pgm-nossl"))
    server = serve(ssl_answer="N", plain="accept")
    _seed(cloud_env, "pgm-nossl", server.port, cert)
    _custom_spec(spec_dir, "pgm-nossl", cert)

    result = cli("verify", str(spec_dir), *_resolve("pgm-nossl", server.port), "--format", "json")
    assert result.code == 2, result.err
    ((code, severity, message),) = _problems(_json(result))
    assert (code, severity) == ("no_ssl", "mismatch")
    assert "server answered N to SSLRequest" in message


def test_a_closed_port_is_an_error_connection_refused(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki
) -> None:
    cert = pki.server(endpoint_of("pgm-closed"))
    port = closed_port()
    _seed(cloud_env, "pgm-closed", port, cert)
    _custom_spec(spec_dir, "pgm-closed", cert)

    result = cli("verify", str(spec_dir), *_resolve("pgm-closed", port), "--format", "json")
    assert result.code == 1, result.err
    ((code, severity, message),) = _problems(_json(result))
    assert (code, severity) == ("connection_refused", "error")
    assert "connection refused: nothing listens on this port" in message


def test_a_server_that_never_answers_the_sslrequest_times_out(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    cert = pki.server(endpoint_of("pgm-silent"))
    server = serve(ssl_answer="silent")
    _seed(cloud_env, "pgm-silent", server.port, cert)
    _custom_spec(spec_dir, "pgm-silent", cert)

    result = cli("verify", str(spec_dir), *_resolve("pgm-silent", server.port), "--timeout", "0.3")
    assert result.code == 1, result.text
    assert "ERROR    sslrequest_timeout: " in result.out
    assert "no answer to SSLRequest (timeout)" in result.out
    assert "within 0.3 s" in result.out


def test_endpoints_are_independent_and_the_worst_result_sets_the_exit_code(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    good, nossl = pki.server(endpoint_of("pgm-g1")), pki.server(endpoint_of("pgm-g2"))
    closed = pki.server(endpoint_of("pgm-g3"))
    good_server, nossl_server, port = serve(good), serve(ssl_answer="N"), closed_port()
    _seed(cloud_env, "pgm-g1", good_server.port, good)
    _seed(cloud_env, "pgm-g2", nossl_server.port, nossl)
    _seed(cloud_env, "pgm-g3", port, closed)
    for instance_id, cert in (("pgm-g1", good), ("pgm-g2", nossl), ("pgm-g3", closed)):
        _custom_spec(spec_dir, instance_id, cert)
    resolves = [
        *_resolve("pgm-g1", good_server.port),
        *_resolve("pgm-g2", nossl_server.port),
        *_resolve("pgm-g3", port),
    ]

    document = _json(cli("verify", str(spec_dir), *resolves, "--format", "json"))
    status = {i["id"]: i["status"] for i in document["instances"]}
    assert status == {"pgm-g1": "ok", "pgm-g2": "mismatch", "pgm-g3": "error"}
    assert document["summary"] | {} == {**document["summary"], "ok": 1, "mismatch": 1, "error": 1}
    assert document["exit_code"] == 1  # an error outweighs a mismatch

    only_mismatch = cli("verify", str(spec_dir), *resolves, "--target", "pgm-g1", "--target", "pgm-g2")
    assert only_mismatch.code == 2, only_mismatch.text


def test_without_resolve_an_unresolvable_name_is_that_endpoints_error(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki
) -> None:
    name = "pgm-dns.example.invalid"  # RFC 6761: .invalid never resolves
    cert = pki.server(name)
    cloud_env.admin.add_instances([instance_entry("pgm-dns", endpoints=[{"host": name, "port": 5432}])])
    (spec_dir / "dns.crt").write_text(cert.cert_pem())
    (spec_dir / "dns.key").write_text(cert.key_pem())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-dns
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{name}]
              certificate: {{source: custom, cert: {{file: dns.crt}}, key: {{file: dns.key}}}}
        """,
    )
    result = cli("verify", str(spec_dir))
    assert result.code == 1, result.text
    assert "ERROR    name_resolution: " in result.out
    assert "--resolve HOST:PORT:ADDRESS" in result.out


def test_a_declared_endpoint_the_instance_does_not_have_is_its_error(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki
) -> None:
    cert = pki.server(endpoint_of("pgm-gone"))
    cloud_env.admin.add_instances([instance_entry("pgm-gone", endpoints=[{"host": "other.example.com", "port": 1921}])])
    _custom_spec(spec_dir, "pgm-gone", cert)
    result = cli("verify", str(spec_dir))
    assert result.code == 1, result.text
    assert (
        f"{endpoint_of('pgm-gone')} is not one of its endpoints (DescribeDBInstanceNetInfo: other.example.com:1921)"
        in (result.out)
    )


def test_the_cloud_certificate_chains_to_the_given_bundle(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, serve: Callable[..., PgTlsServer], tmp_path: Path
) -> None:
    cloud_env.admin.add_instances(
        [instance_entry("pgm-cloud", endpoints=[{"host": endpoint_of("pgm-cloud"), "port": 1}])]
    )
    cloud_env.admin.set_instance(
        "pgm-cloud", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-cloud")}
    )
    # The API hands out the cloud certificate's key (DescribeDBInstanceSSL.ServerKey): serve that pair.
    from alibabacloud_rds20140815.models import DescribeDBInstanceSSLRequest

    body = cloud_env.sdk_client().describe_dbinstance_ssl(DescribeDBInstanceSSLRequest(dbinstance_id="pgm-cloud")).body
    issued = _Pem(body.server_cert, body.server_key)
    server = serve(issued)  # type: ignore[arg-type]
    cloud_env.admin.set_instance("pgm-cloud", endpoints=[{"host": endpoint_of("pgm-cloud"), "port": server.port}])
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-cloud
            region: cn-hangzhou
            ssl: {{enabled: true, endpoints: [{endpoint_of("pgm-cloud")}], certificate: {{source: aliyun}}}}
        """,
    )
    resolve = _resolve("pgm-cloud", server.port)
    without = cli("verify", str(spec_dir), *resolve)
    assert without.code == 0, without.text
    assert "chain_not_checked: no --ca-bundle given" in without.out
    assert "serves the certificate the API reports" in without.out

    bundle = tmp_path / "cloud-ca.pem"
    bundle.write_text(cloud_env.admin.ca_pem())
    trusted = cli("verify", str(spec_dir), *resolve, "--ca-bundle", str(bundle))
    assert trusted.code == 0, trusted.text
    assert "verifies to --ca-bundle" in trusted.out

    other = tmp_path / "other-ca.pem"
    other.write_text(_other_ca_pem())
    untrusted = cli("verify", str(spec_dir), *resolve, "--ca-bundle", str(other), "--format", "json")
    assert untrusted.code == 2
    ((code, _, _),) = _problems(_json(untrusted))
    assert code == "untrusted_chain"


class _Pem:
    """A certificate and key as PEM text (what the emulator holds for its cloud certificate)."""

    def __init__(self, cert: str, key: str) -> None:
        self._cert, self._key = cert, key

    def cert_pem(self) -> str:
        return self._cert

    def key_pem(self) -> str:
        return self._key


def _other_ca_pem() -> str:
    from datetime import UTC, datetime

    from rdsssl_reconcile.pki.authority import CertificateAuthority

    return CertificateAuthority.create("unrelated-ca", now=datetime.now(UTC)).cert_pem()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pgm-x.pg.rds.aliyuncs.com:5432", "expected HOST:PORT:ADDRESS"),
        ("pgm-x.pg.rds.aliyuncs.com:port:127.0.0.1", "PORT must be a number from 1 to 65535"),
        ("pgm-x.pg.rds.aliyuncs.com:70000:127.0.0.1", "PORT must be a number from 1 to 65535"),
    ],
)
def test_a_malformed_resolve_is_refused_before_any_cloud_call(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, value: str, expected: str
) -> None:
    cert = pki.server(endpoint_of("pgm-r"))
    _custom_spec(spec_dir, "pgm-r", cert)
    cloud_env.admin.clear_calls()
    result = cli("verify", str(spec_dir), "--resolve", value)
    assert result.code == 1
    assert f"Error: --resolve {value}: {expected}" in result.err
    assert cloud_env.admin.calls() == []


def test_an_unreadable_bundle_is_a_located_error(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    write_spec(spec_dir, "instances: []\n")
    bad = tmp_path / "bundle.pem"
    bad.write_text("not a certificate\n")
    result = cli("verify", str(spec_dir), "--ca-bundle", str(bad))
    assert result.code == 1
    assert result.err.startswith(f"Error: --ca-bundle {bad}: ")
    assert "Traceback" not in result.err


# -- apply --verify ------------------------------------------------------------------------------------

FAST = ("--auto-approve", "--poll-interval", "0.05", "--progress", "plain")


@pytest.mark.parametrize("restarted", [True, False], ids=["serves-the-new-certificate", "still-serves-the-old-one"])
def test_apply_verify_makes_what_clients_see_part_of_the_proof(
    cli: Cli,
    cloud_env: RunningEmulator,
    spec_dir: Path,
    pki: Pki,
    serve: Callable[..., PgTlsServer],
    restarted: bool,
) -> None:
    old, new = pki.server(endpoint_of("pgm-av")), pki.server(endpoint_of("pgm-av"))
    # The loopback server stands for the instance after its restart: serving the new certificate, or not.
    server = serve(new if restarted else old)
    _seed(cloud_env, "pgm-av", server.port, old)
    _custom_spec(spec_dir, "pgm-av", new)

    result = cli("apply", str(spec_dir), *FAST, "--verify", *_resolve("pgm-av", server.port), "--format", "json")
    (item,) = json.loads(result.out)["instances"]
    assert item["verify"]["status"] == ("ok" if restarted else "mismatch")
    jsonschema.validate(
        {**_empty_report(), "instances": [item["verify"]]}, SCHEMA
    )  # the same instance form as verify's
    if restarted:
        assert result.code == 0, result.err
        assert item["outcome"] == "applied"
        assert "pgm-av: verify: ok (1 endpoint as declared)" in result.err
    else:
        assert result.code == 3, result.err
        assert item["outcome"] == "not_converged"
        assert item["detail"].startswith(
            "proof failed: verify: mismatch: other_certificate: serves another certificate"
        )
    assert_no_key_material(result.text, old.key_pem(), new.key_pem())


def test_apply_without_verify_connects_to_nothing(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, serve: Callable[..., PgTlsServer]
) -> None:
    old, new = pki.server(endpoint_of("pgm-nv")), pki.server(endpoint_of("pgm-nv"))
    server = serve(old)
    _seed(cloud_env, "pgm-nv", server.port, old)
    _custom_spec(spec_dir, "pgm-nv", new)
    result = cli("apply", str(spec_dir), *FAST, "--format", "json")
    assert result.code == 0, result.err
    (item,) = json.loads(result.out)["instances"]
    assert "verify" not in item
    assert server.connections == 0


def _empty_report() -> dict[str, Any]:
    return {
        "format_version": "1.0",
        "target": {},
        "checked_at": "2026-12-01T00:00:00Z",
        "parallelism": 1,
        "timeout_seconds": 1,
        "wall_seconds": 0,
        "probe_seconds": 0,
        "summary": {"ok": 0, "mismatch": 0, "error": 0, "endpoints": 0, "instances": 0},
        "instances": [],
        "exit_code": 0,
    }

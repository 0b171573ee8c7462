"""What a real client sees: ``apply`` against backed instances, then the real ``psql``.

Each instance of the module's emulator is backed by its own PostgreSQL cluster (one emulator for the
module: initdb costs about a second per instance). Every test starts from its own instance with SSL off,
runs the tool's CLI (``certs``, ``apply``) and checks with ``psql`` what libpq accepts: before the apply
the same connection fails, after it it succeeds at once (apply reports applied only once the server is
back), and the server says SSL is on for that very session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from rdsssl_reconcile.emulator.postgres import accepts
from rdsssl_reconcile.pki.authority import CertificateAuthority
from tests.e2e.conftest import CliResult, endpoint_of, instance_entry, write_spec
from tests.support.backed import (
    backed_emulator,
    crl_revoking,
    issue_client_certificate,
    popen_psql,
    postmaster_of,
    psql,
    psql_conninfo,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
FAST = ("--auto-approve", "--poll-interval", "0.05")
Cli = Callable[..., CliResult]

PUBLIC = "pgm-sans-pub.pg.rds.aliyuncs.com"


@pytest.fixture(scope="module")
def backed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    fleet = {
        "instances": [
            instance_entry("pgm-custom"),
            instance_entry("pgm-issuer"),
            instance_entry(
                "pgm-sans",
                endpoints=[{"host": endpoint_of("pgm-sans")}, {"host": PUBLIC, "type": "Public"}],
            ),
            instance_entry("pgm-clients"),
            instance_entry("pgm-restart"),
        ]
    }
    with backed_emulator(tmp_path_factory.mktemp("pg"), fleet, restart_seconds=0.2) as emulator:
        yield emulator


@pytest.fixture
def env(backed: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    monkeypatch.setenv("RDSSSL_ENDPOINT", backed.endpoint)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", backed.access_key_id)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", backed.access_key_secret)
    return backed


def _certs(cli: Cli, out: Path, *endpoints: str) -> Path:
    """``certs ca create`` then ``certs issue`` for ``endpoints``; returns the directory."""
    assert cli("certs", "ca", "create", "--out", str(out / "ca")).code == 0
    issue = ["certs", "issue", "--ca-cert", str(out / "ca/server-ca.crt"), "--ca-key", str(out / "ca/server-ca.key")]
    for endpoint in endpoints:
        issue += ["--endpoint", endpoint]
    result = cli(*issue, "--out", str(out / "server"))
    assert result.code == 0, result.err
    return out


def _verify_full(emulator: RunningEmulator, name: str, ca: Path, **params: str) -> str:
    return psql_conninfo(emulator, name, sslmode="verify-full", sslrootcert=str(ca), **params)


SSL_OF_THIS_SESSION = "SELECT ssl, current_setting('ssl') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def _custom_spec(
    spec_dir: Path, instance_id: str, certs: Path, endpoints: list[str], client_ca: list[str] | None = None
) -> None:
    extra = "".join(f"                {line}\n" for line in client_ca or ())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: {instance_id}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{", ".join(endpoints)}]
              certificate:
                source: custom
                cert: {{file: {certs / "server/server.crt"}}}
                key: {{file: {certs / "server/server.key"}}}
        """.rstrip(" ")
        + ("              client_ca:\n" + extra if extra else ""),
    )


def test_custom_certificate_from_certs_issue_makes_verify_full_connect(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    name = endpoint_of("pgm-custom")
    certs = _certs(cli, tmp_path / "certs", name)
    ca = certs / "ca/server-ca.crt"
    before = psql(_verify_full(env, name, ca))
    assert not before.ok
    assert "SSL" in before.err  # the server does not support SSL yet
    assert psql(psql_conninfo(env, name, sslmode="disable")).ok  # the server itself is up

    _custom_spec(spec_dir, "pgm-custom", certs, [name])
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err

    after = psql(_verify_full(env, name, ca), SSL_OF_THIS_SESSION)
    assert after.ok, after.err
    assert after.out == "t|on"
    # The name is checked for real: the same server under a name the certificate does not cover fails.
    wrong = psql(psql_conninfo(env, name, host="other.example.com", sslmode="verify-full", sslrootcert=str(ca)))
    assert not wrong.ok
    assert "does not match host name" in wrong.err


def test_issuer_spec_makes_verify_full_connect_with_the_ca(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    name = endpoint_of("pgm-issuer")
    assert cli("certs", "ca", "create", "--out", str(tmp_path / "ca")).code == 0
    ca = tmp_path / "ca/server-ca.crt"
    assert not psql(_verify_full(env, name, ca)).ok
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-issuer
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{name}]
              certificate:
                source: issuer
                ca_cert: {{file: {ca}}}
                ca_key: {{file: {tmp_path / "ca/server-ca.key"}}}
        """,
    )
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err
    after = psql(_verify_full(env, name, ca), SSL_OF_THIS_SESSION)
    assert after.ok, after.err
    assert after.out == "t|on"
    # Another CA's clients do not trust it: the chain is checked, not only the name.
    assert cli("certs", "ca", "create", "--out", str(tmp_path / "other")).code == 0
    other = psql(_verify_full(env, name, tmp_path / "other/server-ca.crt"))
    assert not other.ok
    assert "certificate verify failed" in other.err


def test_a_certificate_with_two_sans_serves_each_name(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    names = [endpoint_of("pgm-sans"), PUBLIC]
    certs = _certs(cli, tmp_path / "certs", *names)
    ca = certs / "ca/server-ca.crt"
    assert [psql(_verify_full(env, n, ca)).ok for n in names] == [False, False]

    _custom_spec(spec_dir, "pgm-sans", certs, names)
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err
    for name in names:
        result = psql(_verify_full(env, name, ca), SSL_OF_THIS_SESSION)
        assert result.ok, (name, result.err)
        assert result.out == "t|on"


def test_client_ca_crl_and_acl_are_enforced_by_the_server(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    """Acceptance 3: verify-ca needs a client certificate from the CA, not revoked; no non-SSL session."""
    name = endpoint_of("pgm-clients")
    certs = _certs(cli, tmp_path / "certs", name)
    server_ca = certs / "ca/server-ca.crt"
    client_ca = CertificateAuthority.create("client-ca", now=datetime.now(UTC))
    good = issue_client_certificate(client_ca, tmp_path / "clients", "good")
    revoked = issue_client_certificate(client_ca, tmp_path / "clients", "revoked")
    stranger_ca = CertificateAuthority.create("stranger-ca", now=datetime.now(UTC))
    stranger = issue_client_certificate(stranger_ca, tmp_path / "clients", "stranger")
    (tmp_path / "client-ca.crt").write_text(client_ca.cert_pem())
    (tmp_path / "client-ca.crl").write_text(crl_revoking(client_ca, [revoked.serial]))

    # Before: SSL off, so non-SSL sessions work and no client certificate is asked for.
    assert psql(psql_conninfo(env, name, sslmode="disable")).ok

    _custom_spec(
        spec_dir,
        "pgm-clients",
        certs,
        [name],
        client_ca=[
            f"cert: {{file: {tmp_path / 'client-ca.crt'}}}",
            f"crl: {{file: {tmp_path / 'client-ca.crl'}}}",
            "acl: verify-ca",
        ],
    )
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err

    with_cert = psql(_verify_full(env, name, server_ca, **good.params()), SSL_OF_THIS_SESSION)
    assert with_cert.ok, with_cert.err
    assert with_cert.out == "t|on"

    without = psql(_verify_full(env, name, server_ca))
    assert not without.ok
    assert "certificate" in without.err  # "connection requires a valid client certificate"

    revoked_result = psql(_verify_full(env, name, server_ca, **revoked.params()))
    assert not revoked_result.ok
    assert "revoked" in revoked_result.err

    foreign = psql(_verify_full(env, name, server_ca, **stranger.params()))
    assert not foreign.ok

    no_ssl = psql(psql_conninfo(env, name, sslmode="disable"))
    assert not no_ssl.ok
    assert "no encryption" in no_ssl.err  # an ACL other than prefer forces SSL: no pg_hba line admits it

    # verify-full: the certificate's CN must also be the user; a valid certificate for another user fails.
    other_user = issue_client_certificate(client_ca, tmp_path / "clients", "other", common_name="app_user")
    assert psql(_verify_full(env, name, server_ca, **other_user.params())).ok  # verify-ca: any CN
    (spec_dir / "spec.yaml").write_text(
        (spec_dir / "spec.yaml").read_text().replace("acl: verify-ca", "acl: verify-full")
    )
    applied = cli("apply", str(spec_dir), *FAST)
    assert applied.code == 0, applied.err
    assert psql(_verify_full(env, name, server_ca, **good.params())).ok
    mismatch = psql(_verify_full(env, name, server_ca, **other_user.params()))
    assert not mismatch.ok
    assert 'authentication failed for user "postgres"' in mismatch.err  # CN app_user is not user postgres


def test_apply_closes_open_sessions_and_stays_busy_until_the_server_accepts(
    cli: Cli, env: RunningEmulator, spec_dir: Path, tmp_path: Path
) -> None:
    """Acceptance 4: the restart is real, and the busy window covers it.

    With the emulated busy window at 0 s the only thing keeping the instance busy is the real restart: so
    every Running the tool or anyone else reads after the modify must find the new server accepting.
    """
    name = endpoint_of("pgm-restart")
    certs = _certs(cli, tmp_path / "certs", name)
    old_pid = postmaster_of(env, "pgm-restart")
    assert old_pid is not None
    session = popen_psql(psql_conninfo(env, name, sslmode="disable"), "SELECT pg_sleep(60)")
    try:
        _wait_for_sleeping_session(env, name)
        samples: list[tuple[float, str, int | None, bool]] = []
        stop = threading.Event()
        port = env.backed_endpoints()[name][1]

        def sample() -> None:
            client = env.sdk_client()
            from alibabacloud_rds20140815 import models

            while not stop.is_set():
                status = (
                    client.describe_dbinstance_attribute(
                        models.DescribeDBInstanceAttributeRequest(dbinstance_id="pgm-restart")
                    )
                    .body.items.dbinstance_attribute[0]
                    .dbinstance_status
                )
                # Read the server only after the status: a Running read first must already be true of it.
                samples.append((time.monotonic(), status, postmaster_of(env, "pgm-restart"), accepts(port)))
                time.sleep(0.01)

        _custom_spec(spec_dir, "pgm-restart", certs, [name])
        env.app.update_settings(restart_seconds=0.0)
        poller = threading.Thread(target=sample)
        poller.start()
        try:
            applied = cli("apply", str(spec_dir), *FAST)
        finally:
            stop.set()
            poller.join(30)
            env.app.update_settings(restart_seconds=0.2)
        assert applied.code == 0, applied.err
        # Applied means the server is back: the very next connection succeeds, over SSL, from a new server.
        assert accepts(port)
        new_pid = postmaster_of(env, "pgm-restart")
        assert new_pid is not None
        assert new_pid != old_pid
        after = psql(_verify_full(env, name, certs / "ca/server-ca.crt"), SSL_OF_THIS_SESSION)
        assert after.ok, after.err

        # The open session was closed by the restart.
        _, told = session.communicate(timeout=30)
        code = session.returncode
        assert code != 0
        assert "terminating connection" in told or "closed the connection" in told, told

        busy = [s for s in samples if s[1] != "Running"]
        assert busy, "the instance was never seen busy"
        first_busy = busy[0][0]
        running_after = [s for s in samples if s[0] > first_busy and s[1] == "Running"]
        assert running_after, "the instance was never seen Running again by the poller"
        for _, _, pid, accepting in running_after:
            assert accepting, "Running was reported while the server did not accept"
            assert pid == new_pid, "Running was reported before the server had restarted"
    finally:
        if session.poll() is None:
            session.kill()
        session.communicate()


def _wait_for_sleeping_session(env: RunningEmulator, name: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    query = "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'"
    while time.monotonic() < deadline:
        result = psql(psql_conninfo(env, name, sslmode="disable"), query)
        if result.ok and result.out == "1":
            return
        time.sleep(0.05)
    raise AssertionError("the background psql session never started")

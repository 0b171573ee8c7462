"""A private key a spec references but nobody provided yet is named with its instance (import's keys to provide)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.spec.loader import load_specs

NOW = datetime.now(UTC)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "{env: PGM_A_SERVER_KEY}",
            "a.yaml:9: instances[0].ssl.certificate.key.env: environment variable 'PGM_A_SERVER_KEY' is not set: "
            "the private key of pgm-a is to be provided there",
        ),
        (
            "{file: keys/a.key}",
            "a.yaml:9: instances[0].ssl.certificate.key.file: file 'keys/a.key' does not exist (looked for ",
        ),
    ],
)
def test_a_missing_key_names_its_instance(tmp_path: Path, reference: str, expected: str) -> None:
    ca = CertificateAuthority.create("test", now=NOW)
    server = ca.issue_server_certificate(["pgm-a.pg.rds.aliyuncs.com"], now=NOW)
    (tmp_path / "server.crt").write_text(server.cert_pem())
    (tmp_path / "a.yaml").write_text(
        "instances:\n"
        "  - id: pgm-a\n"
        "    region: cn-hangzhou\n"
        "    ssl:\n"
        "      enabled: true\n"
        "      endpoints: [pgm-a.pg.rds.aliyuncs.com]\n"
        "      certificate:\n"
        "        source: custom\n"
        f"        key: {reference}\n"
        "        cert: {file: server.crt}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_specs([tmp_path], now=NOW, environ={})
    (problem,) = info.value.problems
    assert expected in problem
    assert problem.endswith("the private key of pgm-a is to be provided there")


def test_a_missing_certificate_is_not_called_a_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl:\n      enabled: true\n"
        "      endpoints: [pgm-a.pg.rds.aliyuncs.com]\n"
        "      certificate: {source: custom, cert: {file: nope.crt}, key: {env: K}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as info:
        load_specs([tmp_path], now=NOW, environ={})
    cert_problem = next(p for p in info.value.problems if "nope.crt" in p)
    assert "to be provided" not in cert_problem

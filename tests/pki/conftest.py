"""Keys and certificates for the pki tests, made once per session (RSA generation costs ~50-100 ms)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.pki.authority import CertificateAuthority, IssuedCertificate, KeyType
from tests.support.openssl_procedure import ProcedureFiles, procedure_san, procedure_single_endpoint

ENDPOINTS = ("pgm-a1.pg.rds.aliyuncs.com", "pgm-a1-ro.pg.rds.aliyuncs.com")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def now() -> datetime:
    """A fixed clock for certificates made in Python (the openssl-made ones use the real clock)."""
    return NOW


@pytest.fixture(scope="session")
def authority() -> CertificateAuthority:
    return CertificateAuthority.create("test-root-ca", now=NOW)


@pytest.fixture(scope="session")
def ec_authority() -> CertificateAuthority:
    return CertificateAuthority.create("test-ec-ca", now=NOW, key_type=KeyType.EC_P256)


@pytest.fixture(scope="session")
def issued(authority: CertificateAuthority) -> IssuedCertificate:
    """An RSA-2048 server certificate for both ENDPOINTS, valid 365 days from NOW."""
    return authority.issue_server_certificate(ENDPOINTS, now=NOW)


@pytest.fixture(scope="session")
def procedure_single(tmp_path_factory: pytest.TempPathFactory) -> ProcedureFiles:
    return procedure_single_endpoint(tmp_path_factory.mktemp("procedure-single"))


@pytest.fixture(scope="session")
def procedure_multi(tmp_path_factory: pytest.TempPathFactory) -> ProcedureFiles:
    return procedure_san(tmp_path_factory.mktemp("procedure-san"))


def read(path: Path) -> bytes:
    return path.read_bytes()

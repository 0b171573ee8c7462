from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rdsssl_reconcile.pki.authority import CertificateAuthority


@pytest.fixture(scope="session")
def server_pair() -> dict[str, str]:
    """A CA-signed certificate for pgm-aaa's endpoint and its key, generated at run time."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    ca = CertificateAuthority.create("spec-test-ca", now=now)
    issued = ca.issue_server_certificate(["pgm-aaa.pg.rds.aliyuncs.com"], now=now, days=365)
    return {"cert": issued.cert_pem(), "key": issued.key_pem(), "ca": ca.cert_pem()}

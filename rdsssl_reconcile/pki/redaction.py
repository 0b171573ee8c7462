"""The server's private key out of a DescribeDBInstanceSSL answer, the moment it arrives.

DescribeDBInstanceSSL returns ``ServerKey`` in clear. The cloud adapter calls :func:`redact_server_key`
on the raw body before anything else can see, log or store it, and the live-state parser refuses a body
that still holds the key. It lives here, below both: the cloud layer must not reach up into the parsers,
and what it needs is the key's public fingerprint, which is PKI work.
"""

from __future__ import annotations

from typing import Any

from rdsssl_reconcile.errors import PemError
from rdsssl_reconcile.pki.pem import load_private_key
from rdsssl_reconcile.pki.summary import summarize_private_key

#: The field that replaces ``ServerKey``: SHA-256 of the key's public half, ``""`` when there was no key.
SERVER_KEY_FINGERPRINT = "ServerKeyPublicSha256"


def redact_server_key(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` with ``ServerKey`` replaced by ``ServerKeyPublicSha256``.

    The fingerprint of the public half is all the planner needs to tell whether the key changed; a key
    that does not parse is fingerprinted ``unparseable``, never quoted. The API's "unset" spellings
    (absent, ``""``, ``"-"``) mean no key.
    """
    redacted = dict(body)
    raw = redacted.pop("ServerKey", None)
    key_pem = None if raw is None else str(raw).strip()
    fingerprint = ""
    if key_pem not in (None, "", "-"):
        try:
            fingerprint = summarize_private_key(
                load_private_key(key_pem, what="live server key", validate=False).key
            ).public_key_sha256
        except PemError:
            fingerprint = "unparseable"
    redacted[SERVER_KEY_FINGERPRINT] = fingerprint
    return redacted

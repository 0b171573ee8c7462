"""Does a certificate cover an endpoint, the way libpq decides it under ``sslmode=verify-full``?

libpq (``fe-secure-common.c`` / ``fe-secure-openssl.c``): if the certificate has any DNS
subjectAltName, *only* the SANs count and the CN is ignored; otherwise the CN is used. Matching is
case-insensitive; a wildcard is honoured only as the whole leftmost label (``*.example.com``), it
matches exactly one label, and never the bare parent domain (RFC 6125 §6.4.3). We apply the stricter
RFC 6125 reading to partial wildcards (``db*.example.com`` is not accepted) because Python's `ssl`,
Go and Java clients reject them, and a certificate must work for every client.
"""

from __future__ import annotations

from cryptography import x509

from rdsssl_reconcile.pki.summary import common_name, dns_sans


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def name_matches(pattern: str, hostname: str) -> bool:
    pattern, hostname = _normalize(pattern), _normalize(hostname)
    if not pattern or not hostname:
        return False
    if "*" not in pattern:
        return pattern == hostname
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        # Partial (db*.x) or multi-level wildcards, or "*.com": never a match.
        return False
    host_first, _, host_rest = hostname.partition(".")
    return bool(host_first) and host_rest == rest


def names_checked(cert: x509.Certificate) -> tuple[tuple[str, ...], str]:
    """The names a client compares against, and where they come from (``"SAN"`` or ``"CN"``)."""
    sans = dns_sans(cert)
    if sans:
        return sans, "SAN"
    cn = common_name(cert.subject)
    return ((cn,) if cn else ()), "CN"


def covers(cert: x509.Certificate, hostname: str) -> bool:
    names, _ = names_checked(cert)
    return any(name_matches(name, hostname) for name in names)


def uncovered(cert: x509.Certificate, hostnames: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The hostnames a client would reject with this certificate, in the order given."""
    return tuple(h for h in hostnames if not covers(cert, h))

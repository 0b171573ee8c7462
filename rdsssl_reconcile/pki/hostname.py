"""Does a certificate cover an endpoint, the way libpq decides it under ``sslmode=verify-full``?

libpq (``pgtls_verify_peer_name_matches_certificate_guts`` in ``fe-secure-openssl.c``, PostgreSQL 14+):

* for a DNS host, if the certificate has any dNSName SAN, *only* the SANs count and the CN is ignored;
  otherwise the CN is used;
* for an IP-address host, iPAddress SANs are compared byte-for-byte; the CN is used only when the
  certificate has no iPAddress SAN (even if it has dNSName SANs: libpq's documented departure from
  RFC 6125, kept for NSS compatibility).

Matching is case-insensitive; a wildcard is honoured only as the whole leftmost label (``*.example.com``),
it matches exactly one label, and never the bare parent domain (RFC 6125 §6.4.3). We apply the stricter
RFC 6125 reading to partial wildcards (``db*.example.com``) and to wildcards directly under a public
suffix-like single label (``*.com``) because Python's `ssl`, Go and Java clients reject them, and a
certificate must work for every client. A trailing dot on a certificate name is ignored; endpoints
with one are refused before they get here (``certs`` options and specs), because libpq never matches them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cryptography import x509

from rdsssl_reconcile.pki.summary import common_name, dns_sans, ip_sans


def _normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def name_matches(pattern: str, hostname: str) -> bool:
    """Does one certificate name (SAN dNSName or CN, maybe a wildcard) match ``hostname``?"""
    pattern, hostname = _normalize(pattern), _normalize(hostname)
    if not pattern or not hostname:
        return False
    if "*" not in pattern:
        return pattern == hostname
    if _ip(hostname) is not None:
        # A wildcard never stands for part of an IP address (RFC 6125 §6.4.3, and every TLS client).
        return False
    first, _, rest = pattern.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        # Partial (db*.x) or multi-level wildcards, or "*.com": never a match.
        return False
    host_first, _, host_rest = hostname.partition(".")
    return bool(host_first) and host_rest == rest


def names_checked(cert: x509.Certificate) -> tuple[tuple[str, ...], str]:
    """The names a client compares a DNS host against, and where they come from (``"SAN"`` or ``"CN"``)."""
    sans = dns_sans(cert)
    if sans:
        return sans, "SAN"
    cn = common_name(cert.subject)
    return ((cn,) if cn else ()), "CN"


def names_checked_for(cert: x509.Certificate, hostname: str) -> tuple[tuple[str, ...], str]:
    """Like :func:`names_checked`, but for this host: an IP host is compared with iPAddress SANs first."""
    if _ip(hostname) is None:
        return names_checked(cert)
    ips = ip_sans(cert)
    if ips:
        return (*dns_sans(cert), *ips), "SAN"
    cn = common_name(cert.subject)
    return (*dns_sans(cert), *((cn,) if cn else ())), "SAN and CN"


def covers(cert: x509.Certificate, hostname: str) -> bool:
    """Would libpq (``verify-full``) and strict clients accept ``cert`` for ``hostname``?"""
    host_ip = _ip(hostname)
    if host_ip is None:
        names, _ = names_checked(cert)
        return any(name_matches(name, hostname) for name in names)
    if any(_ip(value) == host_ip for value in ip_sans(cert)):
        return True
    if any(_normalize(name) == str(host_ip) for name in dns_sans(cert)):
        return True
    if ip_sans(cert):
        return False
    cn = common_name(cert.subject)
    return cn is not None and _ip(cn) == host_ip


def uncovered(cert: x509.Certificate, hostnames: Sequence[str]) -> tuple[str, ...]:
    """The hostnames a client would reject with this certificate, in the order given."""
    return tuple(h for h in hostnames if not covers(cert, h))

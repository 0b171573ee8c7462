"""Which endpoints SSL protects, decided the same way under every reading of ``ConnectionString``.

How several endpoints of one custom certificate travel in ``ModifyDBInstanceSSL.ConnectionString``
and come back from ``DescribeDBInstanceSSL`` is undocumented. Three readings are plausible: a comma
list, a semicolon list, or the protected hosts follow the certificate's SANs (the console shows each
SAN of a custom certificate as a separate "Protected Host"). The tool therefore:

* sends ONE endpoint, the first declared, for every request (valid under each reading: a single name
  is a one-element list, and under the SAN reading the name only has to be an endpoint of the instance);
* reads the reported ``ConnectionString`` split on commas *and* semicolons;
* treats the declared endpoints of a custom (or issued) certificate as protected when the live
  certificate is the declared one, covers every declared endpoint (libpq's rules,
  :mod:`rdsssl_reconcile.pki.hostname`), and the report names at least one declared endpoint and
  nothing the certificate does not cover. That last clause accepts the comma and semicolon readings
  (the report is the one endpoint sent) and the SAN reading (the report is the certificate's names,
  which may be more than the spec declares), and refuses a certificate installed for another endpoint.

A cloud certificate protects exactly one endpoint: the report must name exactly the declared one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cryptography import x509

from rdsssl_reconcile.live.model import Endpoint, LiveSsl
from rdsssl_reconcile.pki.hostname import covers, uncovered

_SEPARATORS = re.compile(r"[,;]")


def reported_names(ssl: LiveSsl) -> tuple[str, ...]:
    """The endpoint names in the reported ConnectionString, split on commas and semicolons, in order."""
    names: list[str] = []
    for entry in ssl.endpoints:
        for name in _SEPARATORS.split(entry):
            cleaned = name.strip()
            if cleaned and cleaned.lower() not in (n.lower() for n in names):
                names.append(cleaned)
    return tuple(names)


def cloud_endpoint_protected(ssl: LiveSsl, declared: Sequence[str]) -> bool:
    """The cloud certificate protects exactly one endpoint: the declared one, and nothing else reported."""
    return {n.lower() for n in reported_names(ssl)} == {d.lower() for d in declared}


def certificate_endpoints_protected(ssl: LiveSsl, cert: x509.Certificate, declared: Sequence[str]) -> bool:
    """Does the live certificate ``cert`` (already known to be the declared one) protect ``declared``?"""
    if uncovered(cert, declared):
        return False
    return report_consistent(ssl, declared, cert)


def report_consistent(ssl: LiveSsl, declared: Sequence[str], cert: x509.Certificate | None) -> bool:
    """The report names a declared endpoint, and nothing that is neither declared nor covered by ``cert``."""
    wanted = {d.lower() for d in declared}
    names = reported_names(ssl)
    if not any(n.lower() in wanted for n in names):
        return False
    return all(n.lower() in wanted or (cert is not None and covers(cert, n)) for n in names)


def connection_string(declared: Sequence[str]) -> str:
    """What every enabling or partial request sends: the first declared endpoint, alone."""
    return declared[0]


def disable_connection_string(
    ssl: LiveSsl | None, declared: Sequence[str], instance_endpoints: Sequence[Endpoint] | None, fallback: str
) -> str:
    """ConnectionString is required even to disable SSL: one endpoint protected now, if the instance has it.

    Under the SAN reading the report may hold certificate names that are not endpoints of the instance,
    and the API refuses an unknown endpoint, so a reported name is used only if the instance has it.
    """
    hosts = {e.host.lower() for e in instance_endpoints or ()}
    names = reported_names(ssl) if ssl is not None else ()
    for name in names:
        if instance_endpoints is None or name.lower() in hosts:
            return name
    if declared:
        return declared[0]
    return names[0] if names else fallback

"""``verify``: what a client really sees when it connects to an instance's endpoints over SSL.

An API that says a certificate is configured is not a client that connects with ``sslmode=verify-full``.
This package connects as libpq does (TCP, the PostgreSQL ``SSLRequest``, TLS) and judges what it met
against the spec. Pure logic apart from I/O, as everywhere else:

- :mod:`.model`: frozen values (targets, what a probe met, findings, the report) and the JSON form;
- :mod:`.targets`: which endpoints to connect to and what to expect there (pure: specs + live state);
- :mod:`.probe`: the edge: one endpoint's sockets (SSLRequest, TLS handshake, a plain startup);
- :mod:`.checks`: the verdicts (pure: a probe result, an expectation and the time);
- :mod:`.run`: every endpoint in a bounded thread pool, each independent of the others.
"""

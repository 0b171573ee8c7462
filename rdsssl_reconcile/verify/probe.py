"""The edge of ``verify``: connect to one endpoint as libpq does, and record what happened. No verdicts.

libpq (``sslmode`` other than ``disable``, ``sslnegotiation=postgres``, the default) opens TCP, sends an
``SSLRequest`` (8 bytes: length 8, code 80877103), reads one byte (``S``: go on with TLS; ``N``: the server
does not do SSL) and then runs the TLS handshake on the same socket, sending the host name as SNI
(PostgreSQL 14+, ``sslsni=1``). This probe does the same, but verifies nothing during the handshake
(``CERT_NONE``): it captures what was served so that :mod:`.checks` can say *what* is wrong instead of
"certificate verify failed". It sends no credentials, so accepting old protocol versions and weak
ciphers here (to report them) costs nothing.

The served chain: Python's public API before 3.13 gives only the leaf (``getpeercert(binary_form=True)``).
CPython 3.10-3.12 have ``get_unverified_chain()`` on the private ``_sslobj`` (made public on ``SSLSocket``
in 3.13); it is used when present, and :attr:`TlsSession.full_chain` says which one was had. With the leaf
only, the chain checks build the path from the leaf through the bundle, which is what a client with the
same bundle does when the server sends no intermediates.

Then, when the server spoke TLS, a second connection sends a plain ``StartupMessage`` (protocol 3.0, user
and database ``rdsssl_verify``) to learn whether non-SSL connections are accepted too: an authentication
request (``R``), or an error other than pg_hba.conf's refusal, means they are.
"""

from __future__ import annotations

import functools
import socket
import ssl
import struct
import time
import warnings
from dataclasses import replace
from typing import Any

from rdsssl_reconcile.verify.model import PlainStartup, ProbeFailure, ProbeResult, Target, TlsSession

SSL_REQUEST = struct.pack("!II", 8, 80877103)
PROTOCOL_3_0 = 196608
PROBE_USER = "rdsssl_verify"


def startup_message(user: str = PROBE_USER, database: str = PROBE_USER) -> bytes:
    """A protocol 3.0 StartupMessage: length, version, then ``key\\0value\\0`` pairs and a final ``\\0``."""
    body = struct.pack("!I", PROTOCOL_3_0) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", database))
    )
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


@functools.cache
def _client_context() -> ssl.SSLContext:
    """One context for every probe (an SSLContext is safe to share between threads)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the verdicts are made afterwards, from what was served
    try:  # report old servers instead of failing to talk to them (no credentials are ever sent)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "ssl.TLSVersion.TLSv1 is deprecated"
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    return context


def _is_ip(name: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in name else socket.AF_INET, name)
    except OSError:
        return False
    return True


def served_chain(tls: ssl.SSLSocket) -> tuple[tuple[bytes, ...], bool]:
    """The certificates the server sent (leaf first), and whether that is the whole chain or the leaf only."""
    public: Any = getattr(tls, "get_unverified_chain", None)  # Python 3.13+
    if callable(public):
        ders = public()
        if ders:
            return tuple(bytes(d) for d in ders), True
    private: Any = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)  # CPython 3.10-3.12
    if callable(private):
        certificates = private()
        if certificates:
            return tuple(bytes(c.public_bytes(ssl._ssl.ENCODING_DER)) for c in certificates), True  # type: ignore[attr-defined]
    leaf = tls.getpeercert(binary_form=True)
    return ((leaf,) if leaf else ()), False


def _recv_exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _connect(target: Target, timeout: float) -> socket.socket | ProbeResult:
    """A connected socket, or the probe result that says why there is none."""
    try:
        socket.getaddrinfo(target.address, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:  # ValueError: a NUL in the name
        return ProbeResult(ProbeFailure.NAME_RESOLUTION, f"{target.address} does not resolve ({exc})")
    try:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
    except ConnectionRefusedError:
        return ProbeResult(ProbeFailure.CONNECTION_REFUSED, f"connection refused by {target.address}:{target.port}")
    except TimeoutError:
        return ProbeResult(
            ProbeFailure.CONNECT_TIMEOUT, f"no TCP connection to {target.address}:{target.port} within {timeout:g} s"
        )
    except (OSError, ValueError) as exc:
        return ProbeResult(ProbeFailure.NETWORK, f"cannot connect to {target.address}:{target.port}: {exc}")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def probe_endpoint(target: Target, *, timeout: float, check_plain: bool = True) -> ProbeResult:
    """Connect, SSLRequest, TLS handshake; then (if TLS was served and ``check_plain``) a plain startup.

    ``timeout`` bounds each step (connect, the answer to SSLRequest, the handshake), as libpq's
    ``connect_timeout`` does per attempt.
    """
    started = time.monotonic()
    result = _probe_ssl(target, timeout)
    if result.tls is not None and check_plain:
        result = replace(result, plain=probe_plain(target, timeout=timeout))
    return replace(result, elapsed_seconds=time.monotonic() - started)


def _probe_ssl(target: Target, timeout: float) -> ProbeResult:
    sock = _connect(target, timeout)
    if isinstance(sock, ProbeResult):
        return sock
    with sock:
        try:
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
        except TimeoutError:
            return ProbeResult(
                ProbeFailure.SSLREQUEST_TIMEOUT,
                f"{target.address}:{target.port} accepted the connection but did not answer the SSLRequest "
                f"within {timeout:g} s",
            )
        except OSError as exc:
            return ProbeResult(ProbeFailure.CLOSED, f"the connection failed during the SSLRequest: {exc}")
        if not answer:
            return ProbeResult(ProbeFailure.CLOSED, "the server closed the connection without answering the SSLRequest")
        if answer == b"N":
            return ProbeResult(ssl_answer="N", detail="server answered N to SSLRequest")
        if answer != b"S":
            return ProbeResult(
                ProbeFailure.BAD_ANSWER,
                f"the server answered {answer!r} to the SSLRequest (expected S or N): not a PostgreSQL server?",
            )
        server_hostname = None if _is_ip(target.name) else target.name
        try:
            with _client_context().wrap_socket(sock, server_hostname=server_hostname) as tls:
                chain, full = served_chain(tls)
                cipher = tls.cipher()
                session = TlsSession(
                    version=tls.version() or "unknown",
                    cipher=cipher[0] if cipher else "unknown",
                    cipher_bits=cipher[2] if cipher else None,
                    chain_der=chain,
                    full_chain=full,
                )
        except TimeoutError:
            return ProbeResult(ProbeFailure.HANDSHAKE, f"the TLS handshake did not finish within {timeout:g} s", "S")
        except (ssl.SSLError, OSError, ValueError) as exc:  # ValueError: a name ssl refuses as SNI
            return ProbeResult(ProbeFailure.HANDSHAKE, f"the TLS handshake failed: {exc}", "S")
    return ProbeResult(ssl_answer="S", tls=session)


def _error_fields(body: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def probe_plain(target: Target, *, timeout: float) -> PlainStartup:
    """Send a StartupMessage without SSL and classify the first answer."""
    sock = _connect(target, timeout)
    if isinstance(sock, ProbeResult):
        return PlainStartup(None, f"could not open a second connection: {sock.detail}")
    with sock:
        try:
            sock.sendall(startup_message())
            header = _recv_exact(sock, 5)
            if len(header) < 5:
                return PlainStartup(False, "the server closed a connection without SSL before answering")
            kind, length = header[:1], struct.unpack("!I", header[1:])[0]
            body = _recv_exact(sock, min(max(length - 4, 0), 65536))
        except TimeoutError:
            return PlainStartup(None, f"no answer to a StartupMessage without SSL within {timeout:g} s")
        except OSError as exc:
            return PlainStartup(None, f"the connection without SSL failed: {exc}")
    if kind == b"R":
        return PlainStartup(True, "the server asked a client without SSL to authenticate")
    if kind == b"E":
        fields = _error_fields(body)
        message = fields.get("M", "")
        code = fields.get("C", "")
        if "pg_hba.conf" in message:
            return PlainStartup(False, f"refused without SSL: {message} (SQLSTATE {code})")
        return PlainStartup(True, f"past pg_hba.conf without SSL, then: {message} (SQLSTATE {code})")
    return PlainStartup(None, f"unexpected answer {kind!r} to a StartupMessage without SSL")

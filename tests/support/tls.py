"""A real TLS handshake over loopback: the proof that an issued certificate works for a hostname.

``handshake(cert_file=, key_file=, ca_file=, server_hostname=)`` serves one connection on 127.0.0.1
with the certificate and key, connects with a client that trusts only ``ca_file`` and checks the hostname
(``check_hostname=True``, as libpq's ``verify-full`` does), and returns the protocol version. It raises
``ssl.SSLError`` (``SSLCertVerificationError`` for a wrong host or CA) when the client refuses.
Shaped like trustme's ``check_connection_end_to_end``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

_TIMEOUT = 10.0


def handshake(*, cert_file: Path, key_file: Path, ca_file: Path, server_hostname: str) -> str:
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file))
    assert client_context.check_hostname
    assert client_context.verify_mode is ssl.CERT_REQUIRED

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(_TIMEOUT)
    port = listener.getsockname()[1]
    server_errors: list[BaseException] = []

    def serve() -> None:
        try:
            connection, _ = listener.accept()
            connection.settimeout(_TIMEOUT)
            with server_context.wrap_socket(connection, server_side=True) as tls:
                tls.sendall(b"ok")
        except (OSError, ssl.SSLError) as exc:  # the client refused: expected in negative tests
            server_errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=_TIMEOUT) as raw,
            client_context.wrap_socket(raw, server_hostname=server_hostname) as tls,
        ):
            assert tls.recv(2) == b"ok"
            version = tls.version() or "unknown"
    finally:
        thread.join(_TIMEOUT)
        listener.close()
    return version

"""A threaded HTTP/1.1 server around :class:`EmulatorApp`: bytes in, bytes out, nothing else.

Three transport details matter for a fast, faithful emulator:

* Each response goes out in ONE ``sendall`` (status line, headers and body together) with a
  ``Content-Length``, on a socket with ``TCP_NODELAY``. The stdlib handler writes headers and body
  separately; with keep-alive that meets the client's delayed ACK and costs ~40 ms per call (measured: benchmarks/README.md).
* Keep-alive is honoured, so one SDK client reuses one connection.
* Request lines up to 1 MiB are accepted: the SDK puts certificate, private key and CA in the query string
  (6-10 KB, more for chains), and the stdlib stops at 64 KiB.

The stdlib's per-request log line (which contains the URL, hence the private key) is switched off; the app
logs a URL-free summary instead.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .app import EmulatorApp, HttpRequest

MAX_REQUEST_LINE = 1024 * 1024
MAX_BODY = 16 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rdsssl-reconcile-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections go away eventually
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.untrack(self.connection)

    def handle_one_request(self) -> None:
        # The stdlib version with a larger request-line limit (and no URL in any log).
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self._send_raw(414, b"", "text/plain", ())
                self.close_connection = True
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._serve()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send_raw(413, b"", "text/plain", ())
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        response = self.server.app.handle(
            HttpRequest(method=self.command, target=self.path, headers=headers, body=body)
        )
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send_raw(response.status, response.body, response.content_type, response.headers)

    def _send_raw(self, status: int, body: bytes, content_type: str, extra: tuple[tuple[str, str], ...]) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        lines = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
            *(f"{name}: {value}" for name, value in extra),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)  # one write: no Nagle/delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the stdlib line contains the request URL, which holds ServerKey."""

    def log_error(self, format: str, *args: Any) -> None:
        """Silenced for the same reason (``send_error`` logs the request line)."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    """One thread per connection; daemon threads so a stuck client never blocks shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = tuple(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hangs up mid-request is normal for an emulator under fault tests."""


class EmulatorServer:
    """Runs an :class:`EmulatorApp` on ``host:port`` (port 0 = a free one) in a background thread."""

    def __init__(self, app: EmulatorApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.httpd = EmulatorHTTPServer((host, port), app)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host_port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="rds-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close open keep-alive connections, release the port."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.close_connections()
        self.httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

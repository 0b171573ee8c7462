"""What a backed instance's PostgreSQL server is configured with, as pure text: SSL state in, files out.

The emulator backs an instance with a real PostgreSQL cluster (``postgres.py`` runs it); this module is
the one place that says what the API's SSL state means to that server, so the meaning can be read and
tested without starting one:

* ``ssl`` on or off; the server certificate (with any chain the PEM carries) and its key;
* the client CA as ``ssl_ca_file`` and the CRL as ``ssl_crl_file`` ("Configure a client CA certificate for
  an ApsaraDB RDS for PostgreSQL instance");
* ``pg_hba.conf`` from the ACLs ("Forcefully enable SSL connections"): ``prefer`` (the default, also when
  no ACL is set) admits SSL and non-SSL connections alike (a ``host`` line); any other value forces SSL
  (``hostssl`` lines only, so a non-SSL connection finds no line and is refused): ``verify-ca`` checks the
  client certificate against the client CA (``clientcert=verify-ca``), ``verify-full`` also that its CN is
  the user name (``clientcert=verify-full``), ``cert`` authenticates by the certificate (the ``cert``
  method: the CN is the user). ``ACL`` governs normal connections, ``ReplicationACL`` the ``replication``
  pseudo-database.

The emulator has no accounts or passwords: every line's method is ``trust`` (or ``cert``), and the server
listens on 127.0.0.1 only. Unix-domain sockets are off, so nothing is created outside the data directory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import SslState

LISTEN_ADDRESS = "127.0.0.1"
#: The file ``postgresql.conf`` includes; rewritten whole on every change.
CONF_NAME = "rdsssl-emulator.conf"
INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
CLIENT_CA = "client-ca.crt"
CLIENT_CRL = "client.crl"
KEY_MODE = 0o600
FILE_MODE = 0o644
#: ACL values that force SSL: every value but ``prefer`` ("Forcefully enable SSL connections").
FORCING_ACLS = ("cert", "verify-ca", "verify-full")


@dataclass(frozen=True, slots=True)
class ClusterFiles:
    """Files to write into the data directory: name -> text, and the mode of each."""

    texts: dict[str, str] = field(repr=False)
    modes: dict[str, int]

    def __repr__(self) -> str:  # the key is among the texts: never shown
        return f"ClusterFiles({sorted(self.texts)})"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def server_conf(ssl: SslState, port: int) -> str:
    """The settings file: listen address and port, and the SSL settings ``ssl`` implies."""
    serving = ssl_served(ssl)
    lines = [
        "# Written by the rdsssl-reconcile emulator for a backed instance; rewritten on every SSL change.",
        f"listen_addresses = {_quote(LISTEN_ADDRESS)}",
        f"port = {int(port)}",
        "unix_socket_directories = ''",
        f"ssl = {'on' if serving else 'off'}",
    ]
    if serving:
        lines += [f"ssl_cert_file = {_quote(SERVER_CERT)}", f"ssl_key_file = {_quote(SERVER_KEY)}"]
        lines.append(f"ssl_ca_file = {_quote(CLIENT_CA if ssl.client_ca_cert else '')}")
        lines.append(f"ssl_crl_file = {_quote(CLIENT_CRL if ssl.client_ca_cert and ssl.crl else '')}")
    return "\n".join(lines) + "\n"


def ssl_served(ssl: SslState) -> bool:
    """SSL is on and there is a certificate and key to serve (the backend issues cloud ones before)."""
    return ssl.enabled and bool(ssl.server_cert) and bool(ssl.server_key)


def hba_line(database: str, acl: str | None, *, ssl_on: bool) -> str:
    """The one ``pg_hba.conf`` line for ``database`` (``all`` or ``replication``) under ``acl``."""
    if not ssl_on or acl in (None, "prefer"):
        return f"host    {database:<11} all 127.0.0.1/32 trust"
    if acl == "cert":
        return f"hostssl {database:<11} all 127.0.0.1/32 cert"
    if acl in ("verify-ca", "verify-full"):
        return f"hostssl {database:<11} all 127.0.0.1/32 trust clientcert={acl}"
    raise ValueError(f"unknown ACL {acl!r}")


def hba_conf(ssl: SslState) -> str:
    """``pg_hba.conf``: replication first (its own ACL), then every database under ``ACL``."""
    ssl_on = ssl_served(ssl)
    # An ACL needs the client CA (the API refuses it otherwise); without one there is nothing to verify.
    acl = ssl.acl if ssl.client_ca_cert else None
    replication_acl = ssl.replication_acl if ssl.client_ca_cert else None
    return (
        "\n".join(
            [
                "# Written by the rdsssl-reconcile emulator from the instance's ACL and ReplicationACL.",
                "# TYPE  DATABASE    USER ADDRESS      METHOD",
                hba_line("replication", replication_acl, ssl_on=ssl_on),
                hba_line("all", acl, ssl_on=ssl_on),
            ]
        )
        + "\n"
    )


def forces_ssl(ssl: SslState) -> bool:
    """Non-SSL connections are refused: SSL on with a client CA and an ACL other than ``prefer``."""
    return ssl_served(ssl) and bool(ssl.client_ca_cert) and ssl.acl in FORCING_ACLS


def cluster_files(ssl: SslState, port: int) -> ClusterFiles:
    """Everything a change of ``ssl`` writes into the data directory (the key with mode 0600)."""
    texts = {CONF_NAME: server_conf(ssl, port), "pg_hba.conf": hba_conf(ssl)}
    modes = {CONF_NAME: FILE_MODE, "pg_hba.conf": KEY_MODE}
    if ssl_served(ssl):
        assert ssl.server_cert is not None
        assert ssl.server_key is not None
        texts[SERVER_CERT] = ssl.server_cert
        texts[SERVER_KEY] = ssl.server_key
        modes[SERVER_CERT], modes[SERVER_KEY] = FILE_MODE, KEY_MODE
        if ssl.client_ca_cert:
            texts[CLIENT_CA] = ssl.client_ca_cert
            modes[CLIENT_CA] = FILE_MODE
            if ssl.crl:
                texts[CLIENT_CRL] = ssl.crl
                modes[CLIENT_CRL] = FILE_MODE
    return ClusterFiles(texts=texts, modes=modes)


#: Files a previous configuration may have left that the current one does not write.
ALL_SSL_FILES = (SERVER_CERT, SERVER_KEY, CLIENT_CA, CLIENT_CRL)

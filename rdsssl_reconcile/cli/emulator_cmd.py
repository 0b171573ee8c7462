"""``rdsssl-reconcile emulator serve``: run the local RDS OpenAPI emulator until SIGINT/SIGTERM.

The first line of output is the endpoint and nothing else (``http://127.0.0.1:PORT``), flushed at once, so
scripts and ``spawn_emulator_process`` can read it; the second says how to point the CLI at it. Request
summaries go to stderr (no URLs: the SDK puts the private key in the query string). Fleet and state-file
problems are :class:`~rdsssl_reconcile.errors.UserError`\\ s, so ``run()`` prints them without a traceback.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from rdsssl_reconcile.cli.options import FiniteFloatRange
from rdsssl_reconcile.emulator.app import EmulatorApp
from rdsssl_reconcile.emulator.auth import DEFAULT_ACCESS_KEY_SECRET, default_keys
from rdsssl_reconcile.emulator.postgres import back_instances, parse_backed_option
from rdsssl_reconcile.emulator.server import EmulatorServer
from rdsssl_reconcile.emulator.settings import (
    CONNECTION_STRING_FORMATS,
    DESCRIBE_IDS_READINGS,
    EmulatorSettings,
)
from rdsssl_reconcile.errors import UserError


@click.group()
def emulator() -> None:
    """Run the local RDS OpenAPI emulator (see docs/emulator.md)."""


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), show_default=True, help="0 picks a free port.")
@click.option("--fleet", type=click.Path(path_type=Path, dir_okay=False), help="Fleet YAML/JSON to start with.")
@click.option(
    "--state",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Persist state here after every accepted change; if the file exists it wins over --fleet.",
)
@click.option(
    "--restart-seconds",
    type=FiniteFloatRange(0, 7 * 24 * 3600),
    help="How long a modify keeps an instance busy [180].",
)
@click.option(
    "--describe-ids",
    type=click.Choice(DESCRIBE_IDS_READINGS),
    help="How DescribeDBInstances reads DBInstanceId=a,b (an open question, docs/emulator.md) [list].",
)
@click.option(
    "--connection-string-format",
    type=click.Choice(CONNECTION_STRING_FORMATS),
    help="How several endpoints travel in ConnectionString (an open question) [comma].",
)
@click.option("--busy-status", help="DBInstanceStatus during an SSL change [SSL_MODIFYING].")
@click.option(
    "--setting",
    "setting_pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any emulator setting (docs/emulator.md, Settings); VALUE is JSON (true, 60, null) or text. Repeatable.",
)
@click.option("--access-key-id", help="Access key id to accept [emulator-access-key-id].")
@click.option("--access-key-secret", help="Access key secret to accept [emulator-access-key-secret].")
@click.option(
    "--seed", default=0, type=click.IntRange(0, 2**63 - 1), show_default=True, help="Seed of the fault-injection RNG."
)
@click.option("--quiet", is_flag=True, help="Do not log a line per request on stderr.")
@click.option(
    "--backed",
    metavar="all|ID[,ID...]",
    help="Back these instances (or all) with real PostgreSQL servers on 127.0.0.1 (docs/emulator.md, Backed instances).",
)
@click.option(
    "--postgres-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where backed instances' clusters live [beside --state, or under $XDG_STATE_HOME].",
)
def serve(
    host: str,
    port: int,
    fleet: Path | None,
    state: Path | None,
    restart_seconds: float | None,
    describe_ids: str | None,
    connection_string_format: str | None,
    busy_status: str | None,
    setting_pairs: tuple[str, ...],
    access_key_id: str | None,
    access_key_secret: str | None,
    seed: int,
    quiet: bool,
    backed: str | None,
    postgres_dir: Path | None,
) -> int:
    """Serve the emulated RDS API until SIGINT/SIGTERM.

    The first line printed is the endpoint (http://HOST:PORT), the second how to point the CLI at it.
    """
    changes = _settings_from(setting_pairs)
    named = {
        "restart_seconds": restart_seconds,
        "describe_ids": describe_ids,
        "connection_string_format": connection_string_format,
        "busy_status": busy_status,
    }
    changes.update({k: v for k, v in named.items() if v is not None})
    try:
        settings = EmulatorSettings().updated(**changes)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--setting'") from None
    keys = default_keys(access_key_id, access_key_secret)
    app = EmulatorApp.create(fleet=fleet, state_file=state, settings=settings, keys=keys, seed=seed)
    backed_ids = parse_backed_option(backed)
    if backed is not None and backed_ids is None:
        raise click.BadParameter("expected 'all' or instance ids separated by commas", param_hint="'--backed'")
    try:
        server = EmulatorServer(app, host=host, port=port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        backing = back_instances(app.backend, backed=backed_ids, directory=postgres_dir, state_file=state)
    except BaseException:
        server.stop()
        raise

    if not quiet:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger = logging.getLogger("rdsssl_reconcile.emulator")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    server.start()
    secret = keys[0].access_key_secret if keys[0].access_key_secret == DEFAULT_ACCESS_KEY_SECRET else "<your secret>"
    click.echo(server.endpoint)
    click.echo(
        f"export RDSSSL_ENDPOINT={server.endpoint} ALIBABA_CLOUD_ACCESS_KEY_ID={keys[0].access_key_id} "
        f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}"
    )
    sys.stdout.flush()
    count = len(app.backend.instance_ids())
    where = f", state in {state}" if state else ""
    click.echo(f"Emulating {count} instance{'s' if count != 1 else ''}{where}. Ctrl-C to stop.", err=True)
    if backing is not None:
        for instance_id, pg_port in backing.ports().items():
            click.echo(f"Backed: {instance_id} is PostgreSQL on 127.0.0.1:{pg_port}", err=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        if backing is not None:
            backing.stop_all()
        for sig, handler_ in previous.items():
            signal.signal(sig, handler_)
    click.echo("Emulator stopped.", err=True)
    return 0


def _settings_from(pairs: tuple[str, ...]) -> dict[str, object]:
    """``--setting NAME=VALUE`` pairs as settings changes (VALUE read as JSON when it is JSON)."""
    changes: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="'--setting'")
        try:
            value: object = json.loads(raw)
        except ValueError:
            value = raw
        changes[name.strip()] = value
    return changes

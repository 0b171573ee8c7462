"""``verify``: connect to every declared endpoint as a client would, and check what it serves.

Thin: options in, :func:`rdsssl_reconcile.verify.run.verify_instances`, a renderer, the report's exit code
(0 all good, 2 a mismatch, 1 an error). The options that say how to connect (``--resolve``,
``--ca-bundle``, ``--timeout``, ``--probe-parallelism``) are also what ``apply --verify`` takes, defined once
here (:func:`verify_connect_options`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rdsssl_reconcile.cli.machine_errors import document_on_error
from rdsssl_reconcile.cli.options import (
    FiniteFloatRange,
    clock_from,
    endpoint_option,
    now_option,
    paths_argument,
)
from rdsssl_reconcile.errors import PemError, UserError
from rdsssl_reconcile.textsafe import visible
from rdsssl_reconcile.verify.run import ConnectSettings

if TYPE_CHECKING:
    from cryptography import x509

    from rdsssl_reconcile.verify.model import VerifyReport

F = TypeVar("F", bound=Callable[..., Any])


def _load_bundle(path: Path | None) -> tuple[tuple[x509.Certificate, ...], str | None]:
    if path is None:
        return (), None
    from rdsssl_reconcile.pki.pem import load_certificates

    shown = f"--ca-bundle {visible(str(path))}"
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{shown}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    try:
        return tuple(load_certificates(text, what="CA bundle")), f"file {path}"
    except PemError as exc:
        raise UserError(f"{shown}: {exc}; expected PEM certificates (the CA to trust)") from None


def connect_settings(
    resolve: tuple[str, ...], ca_bundle: Path | None, timeout: float, parallelism: int
) -> ConnectSettings:
    """Check and parse the connect options (a user error names the option), before any cloud call."""
    from rdsssl_reconcile.verify.targets import parse_resolve

    resolves = tuple(parse_resolve(item) for item in resolve)
    bundle, bundle_from = _load_bundle(ca_bundle)
    return ConnectSettings(resolves, bundle, bundle_from, timeout, parallelism)


def verify_connect_options(*, prefix: str = "") -> Callable[[F], F]:
    """``--resolve``, ``--ca-bundle``, ``--timeout`` and ``--probe-parallelism`` (``prefix``: ``verify-``
    for apply, whose ``--timeout`` is the API call's)."""

    def decorate(command: F) -> F:
        for option in reversed(
            (
                click.option(
                    "--resolve",
                    "resolve",
                    multiple=True,
                    metavar="HOST:PORT:ADDRESS",
                    help="Connect to ADDRESS for HOST:PORT, while SNI and name checks still use HOST (as curl's "
                    "--resolve; repeatable).",
                ),
                click.option(
                    "--ca-bundle",
                    "ca_bundle",
                    type=click.Path(dir_okay=False, path_type=Path),
                    metavar="FILE",
                    help="PEM CA certificates the served chain must verify to (required to check source: aliyun; "
                    "checked for every source when given).",
                ),
                click.option(
                    f"--{prefix}timeout",
                    "probe_timeout",
                    type=FiniteFloatRange(0.05, 300),
                    default=5.0,
                    show_default=True,
                    metavar="SECONDS",
                    help="Per endpoint, for each step: TCP connect, the answer to SSLRequest, the TLS handshake.",
                ),
                click.option(
                    "--probe-parallelism",
                    "probe_parallelism",
                    type=click.IntRange(1, 256),
                    default=16,
                    show_default=True,
                    help="Endpoints probed at once.",
                ),
            )
        ):
            command = option(command)
        return command

    return decorate


@click.command()
@paths_argument
@endpoint_option
@verify_connect_options()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json is described by rdsssl_reconcile/verify.schema.json (docs/verify.md).",
)
@click.option("--target", "targets", multiple=True, metavar="ID", help="Verify only this instance (repeatable).")
@click.option(
    "--api-timeout",
    type=FiniteFloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Timeout of each API call (reading the endpoints; retried with backoff).",
)
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="API calls in flight at once.",
)
@now_option
def verify(
    paths: tuple[Path, ...],
    endpoint: str | None,
    resolve: tuple[str, ...],
    ca_bundle: Path | None,
    probe_timeout: float,
    probe_parallelism: int,
    output_format: str,
    targets: tuple[str, ...],
    api_timeout: float,
    parallelism: int,
    now: str | None,
) -> int:
    """Connect to each declared endpoint as a PostgreSQL client does and check what it serves.

    For each endpoint (the spec's names, the live ports): TCP, SSLRequest, TLS; then the served certificate
    against the spec (the spec's certificate for custom, issued by the spec's CA for issuer, a chain to
    --ca-bundle for aliyun), the names as libpq verify-full checks them, expiry, protocol and cipher, and
    whether connections without SSL are accepted too. Exit 0: all as declared; 2: a mismatch; 1: an error
    (a probe that failed: refused, timed out, unresolvable; or bad input).
    """
    from rdsssl_reconcile.cli.runner import session, targeted
    from rdsssl_reconcile.verify.run import verify_instances

    spec_paths = list(paths) if paths else [Path("specs")]
    clock = clock_from(now)
    with document_on_error(output_format, command="verify"):
        settings = connect_settings(resolve, ca_bundle, probe_timeout, probe_parallelism)
        with session(spec_paths, endpoint=endpoint, timeout=api_timeout, now=clock.now()) as (spec_set, connection):
            selected = targeted(spec_set, targets)
            report = verify_instances(
                connection.client,
                selected.instances,
                target=connection.target.to_json(),
                now=clock.now,
                resolves=settings.resolves,
                bundle=settings.bundle,
                bundle_from=settings.bundle_from,
                timeout=settings.timeout,
                parallelism=settings.parallelism,
                read_parallelism=parallelism,
            )
    click.echo(render_report(report, output_format), nl=False)
    return report.exit_code


def render_report(report: VerifyReport, output_format: str) -> str:
    if output_format == "json":
        import json

        return json.dumps(report.to_json(), indent=2) + "\n"
    if output_format == "markdown":
        from rdsssl_reconcile.render.verify_markdown import render_verify_markdown

        return render_verify_markdown(report)
    from rdsssl_reconcile.render.verify_text import render_verify_text

    return render_verify_text(report)


def with_connect_settings(command: F) -> F:
    """Collect the connect options into one ``verify_settings`` argument (None unless ``--verify``)."""

    @functools.wraps(command)
    def run(**options: Any) -> Any:
        resolve, ca_bundle = options.pop("resolve"), options.pop("ca_bundle")
        timeout, parallelism = options.pop("probe_timeout"), options.pop("probe_parallelism")
        options["verify_settings"] = (
            connect_settings(resolve, ca_bundle, timeout, parallelism) if options.pop("verify") else None
        )
        return command(**options)

    return run  # type: ignore[return-value]

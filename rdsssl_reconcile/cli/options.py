"""Options shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from rdsssl_reconcile.clock import EARLIEST_NOW, LATEST_NOW, SystemClock, parse_instant
from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.render.markdown import DEFAULT_MAX_BYTES

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """A bounded float that also refuses NaN and the infinities.

    click's FloatRange compares the value with its bounds, and every comparison with NaN is false, so
    ``--timeout nan`` passes it and fails much later (a ValueError after an instance already restarted).
    Both bounds are required here: an open upper bound would let ``inf`` through the same way.
    """

    name = "finite float"

    def __init__(self, min: float, max: float) -> None:
        super().__init__(min=min, max=max)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"expected a number from {self.min:g} to {self.max:g}, got {value!r}", param, ctx)
        return number


paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def _check_endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--endpoint ""`` is a mistake (an unset shell variable), not "no endpoint": refuse it at once."""
    if value is not None and not value.strip():
        raise click.BadParameter(f"expected an http(s) URL such as http://127.0.0.1:8080, got {value!r}", ctx, param)
    return value


endpoint_option = click.option(
    "--endpoint",
    metavar="URL",
    callback=_check_endpoint,
    help="Talk to an emulator at URL instead of Alibaba Cloud (env RDSSSL_ENDPOINT). "
    "Credentials come from the standard chain (ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, profile, role, OIDC).",
)

parallelism_option = click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="API calls in flight at once.",
)

timeout_option = click.option(
    "--timeout",
    type=FiniteFloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Timeout of each API call (failed calls are retried with backoff).",
)


def _check_now(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a bad ``--now`` while the command line is parsed, before anything runs."""
    if value is None:
        return None
    from_env = ctx.get_parameter_source(param.name or "now") is click.core.ParameterSource.ENVIRONMENT
    if not value.strip() and from_env:
        return None  # an empty RDSSSL_NOW is the same as an unset one
    try:
        clock_from(value, allow_empty=False)
    except UserError as exc:
        if from_env:
            raise UserError(f"--now (from RDSSSL_NOW): {str(exc).removeprefix('--now: ')}") from None
        raise
    return value


now_option = click.option(
    "--now",
    envvar="RDSSSL_NOW",
    callback=_check_now,
    metavar="TIME",
    help="Act as if the time were TIME (ISO 8601, UTC) and run on from there: preview renewals, or line up "
    "with an emulator whose clock was advanced (env RDSSSL_NOW).",
)


def resolve_now(text: str | None) -> datetime:
    return clock_from(text).now()


def clock_from(text: str | None, *, allow_empty: bool = True) -> SystemClock:
    """The tool's clock, started at ``--now`` when given.

    The instant must leave room to issue a certificate (``source: issuer`` issues at apply time): X.509
    times start in 1950 (the issuer back-dates by five minutes) and end with year 9999, which must still
    be after the longest validity a spec may ask for.
    """
    if text is None or (allow_empty and not text):
        return SystemClock()
    shown = repr(text) if len(text) <= 80 else f"{text[:80]!r}... ({len(text)} characters)"
    try:
        start = parse_instant(text)
    except (ValueError, OverflowError):
        raise UserError(f"--now: expected an ISO 8601 time such as 2027-01-31T02:00:00Z, got {shown}") from None
    if not EARLIEST_NOW <= start <= LATEST_NOW:
        raise UserError(
            f"--now: expected a time from {EARLIEST_NOW:%Y-%m-%dT%H:%M:%SZ} to {LATEST_NOW:%Y-%m-%dT%H:%M:%SZ} "
            f"(certificates issued then must start after 1950 and end before the year 9999), got {shown}"
        )
    return SystemClock(start=start)


max_bytes_option = click.option(
    "--max-bytes",
    type=click.IntRange(1024, 100_000_000),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    metavar="N",
    help="--format markdown: the comment's size budget (default: a GitHub comment). Over it, per-instance "
    "details and then table rows are left out, never the banners or the summary.",
)

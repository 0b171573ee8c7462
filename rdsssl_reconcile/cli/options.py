"""Options shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from rdsssl_reconcile.clock import SystemClock, parse_instant
from rdsssl_reconcile.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])

paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))

endpoint_option = click.option(
    "--endpoint",
    metavar="URL",
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
    type=click.FloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Timeout of each API call (failed calls are retried with backoff).",
)

now_option = click.option(
    "--now",
    envvar="RDSSSL_NOW",
    metavar="TIME",
    help="Act as if the time were TIME (ISO 8601, UTC) and run on from there: preview renewals, or line up "
    "with an emulator whose clock was advanced (env RDSSSL_NOW).",
)


def resolve_now(text: str | None) -> datetime:
    return clock_from(text).now()


def clock_from(text: str | None) -> SystemClock:
    if not text:
        return SystemClock()
    try:
        return SystemClock(start=parse_instant(text))
    except ValueError:
        raise UserError(f"--now: expected an ISO 8601 time such as 2027-01-31T02:00:00Z, got {text!r}") from None

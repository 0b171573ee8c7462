"""``--region`` and ``--select``, declared once for every command that plans (plan, apply, drift).

The selection itself is :mod:`rdsssl_reconcile.spec.selection`; this module only declares the options,
so that each command spells and explains them the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def selection_options(command: F) -> F:
    """Add ``--region R`` and ``--select KEY=GLOB`` (both repeatable) as ``regions`` and ``selects``."""
    command = click.option(
        "--select",
        "selects",
        multiple=True,
        metavar="KEY=GLOB",
        help="Only instances whose id, region or labels.NAME matches GLOB (repeatable: the same key matches "
        "either glob, different keys all must match). The others are not read.",
    )(command)
    command = click.option(
        "--region",
        "regions",
        multiple=True,
        metavar="REGION",
        help="Only instances declared in this region (repeatable). The others are not read.",
    )(command)
    return command

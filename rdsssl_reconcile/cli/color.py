"""Colour, decided once for every command: ``--color auto|always|never``, ``--no-color``, NO_COLOR, FORCE_COLOR.

Every command prints through click (``click.echo`` drops styles unless the context says colour), and the
live apply table through rich, so one decision on the click context serves all of them. The order:

1. ``--no-color`` or ``--color never``: no colour, even at a terminal;
2. ``--color always``: colour, even in a pipe or a CI log;
3. ``NO_COLOR`` set to anything non-empty (https://no-color.org): no colour;
4. ``FORCE_COLOR`` set to anything but empty or ``0``: colour;
5. otherwise colour only at a terminal (``auto``).

The options are attached to every command (``plan --no-color``, as ``terraform plan -no-color``), so
the lazily loaded command modules do not each declare them.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

CHOICES = ("auto", "always", "never")


def color_from_environment(environ: Mapping[str, str]) -> bool | None:
    """Steps 3 and 4: False, True, or None (decide by the terminal)."""
    if environ.get("NO_COLOR", ""):
        return False
    force = environ.get("FORCE_COLOR", "")
    if force and force != "0":
        return True
    return None


_REFUSED = "rdsssl_reconcile.no_color"


def _set_color(ctx: click.Context, param: click.Parameter, value: object) -> None:
    # Options are processed in command-line order; --no-color / never win whichever comes first.
    if (param.name == "no_color" and value) or value == "never":
        ctx.meta[_REFUSED] = True
        ctx.color = False
    elif value == "always" and not ctx.meta.get(_REFUSED):
        ctx.color = True


def _options() -> list[click.Option]:
    return [
        click.Option(
            ["--color"],
            type=click.Choice(CHOICES),
            default=None,
            expose_value=False,
            callback=_set_color,
            help="Colour the output: auto (at a terminal; NO_COLOR and FORCE_COLOR are honoured), always, never.",
        ),
        click.Option(
            ["--no-color"],
            is_flag=True,
            default=False,
            expose_value=False,
            callback=_set_color,
            help="No colour (same as --color never).",
        ),
    ]


def attach_color_options(command: click.Command) -> click.Command:
    """Add ``--color``/``--no-color`` to ``command`` and, for a group, to each of its subcommands."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach_color_options(sub)
        return command
    if not any(p.name in ("color", "no_color") for p in command.params):
        command.params.extend(_options())
    return command

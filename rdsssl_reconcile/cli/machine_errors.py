"""Commands with a machine format keep stdout a document when they fail (see render/errors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from rdsssl_reconcile.errors import ReconcileError


@contextmanager
def document_on_error(output_format: str, *, command: str) -> Iterator[None]:
    """With ``--format json`` or ``markdown``, an error also writes its document to stdout, then goes on up.

    The CLI's one error handler still prints the message on stderr and sets the exit code (1).
    """
    try:
        yield
    except ReconcileError as error:
        from rdsssl_reconcile.render.errors import render_error_json, render_error_markdown

        if output_format == "json":
            click.echo(render_error_json(error, command=command), nl=False)
        elif output_format == "markdown":
            click.echo(render_error_markdown(error, command=command), nl=False)
        raise

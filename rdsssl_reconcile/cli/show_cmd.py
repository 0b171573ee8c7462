"""``show PLANFILE``: the saved plan, exactly as it was saved, for the reviewer of ``apply PLANFILE``.

Offline: no cloud call, no spec files, no SDK import. The plan is rebuilt from the file
(:func:`~rdsssl_reconcile.planfile.plan_from_document`, which refuses a file that is not exactly what
the tool writes for that plan) and rendered by the same renderers as ``plan``, so ``show F`` prints what
``plan --out F`` printed, in any format. The JSON is the document ``plan --format json`` printed: the
file without what only a saved plan holds (``kind``, ``desired``, ``origin``). A selection the plan was
made with (``plan --region/--select``, which ``apply PLANFILE`` applies again) is named on stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

from rdsssl_reconcile import __version__
from rdsssl_reconcile.cli.options import max_bytes_option
from rdsssl_reconcile.cli.plan_cmd import echo_markdown
from rdsssl_reconcile.planfile import plan_from_document, read_plan
from rdsssl_reconcile.planning.outcome import declared_ssl_of_saved
from rdsssl_reconcile.render.plan_json import batched, plan_json_chunks
from rdsssl_reconcile.render.text import render_text
from rdsssl_reconcile.spec.selection import selection_from_json
from rdsssl_reconcile.textsafe import visible


@click.command()
@click.argument("plan_file", metavar="PLANFILE", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="text as 'plan' prints it; json as 'plan --format json' (docs/plan-format.md); markdown for a PR comment.",
)
@max_bytes_option
def show(plan_file: Path, output_format: str, max_bytes: int) -> int:
    """Show a plan saved with 'plan --out', exactly as saved (offline: no cloud call).

    Use it to review the artifact that 'apply PLANFILE' will carry out. A file that is not exactly what
    this version writes for the plan it describes (edited, or another version's) is refused (exit 1).
    """
    where = visible(str(plan_file))
    document = read_plan(plan_file)
    plan = plan_from_document(document, where)
    if output_format == "markdown":
        # The verdicts need what each spec declares; a saved plan carries it in its desired section.
        # Within the comment's budget, pointing at this file for what is left out, as plan --out does.
        echo_markdown(plan, declared_ssl_of_saved(document.get("desired") or {}), max_bytes=max_bytes, out=plan_file)
    elif output_format == "json":
        # In pieces, as plan prints it: one json.dumps(indent=2) of 10,000 instances peaked at 370 MB.
        for text in batched(plan_json_chunks(plan, tool_version=document["tool_version"])):
            click.echo(text, nl=False)
    else:
        click.echo(render_text(plan), nl=False)
    selection = selection_from_json((document.get("origin") or {}).get("selection"))
    if not selection.empty:
        # apply PLANFILE acts on the instances this selection chose, and re-reads only those: the reviewer
        # of the artifact should see it without opening the file.
        click.echo(
            f"note: {where} was made with {visible(selection.describe())}: 'apply' of it reads and changes "
            "only the instances that selection chose",
            err=True,
        )
    if document["tool_version"] != __version__:
        click.echo(
            f"note: {where} was saved by rdsssl-reconcile {visible(document['tool_version'])}; "
            f"'apply' with this version ({__version__}) will refuse it",
            err=True,
        )
    return 0

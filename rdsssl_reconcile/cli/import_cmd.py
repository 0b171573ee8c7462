"""``import``: write specs that declare the live SSL configuration, so that ``plan`` finds nothing to do.

Thin: the reads are :mod:`rdsssl_reconcile.live.inventory` (through a read-only view of the client: no
modify can be called), the mapping is :mod:`rdsssl_reconcile.spec.importer` (pure), the files are
:mod:`rdsssl_reconcile.spec.import_writer`. Exit 0 when every instance asked for was imported or skipped
with a reason; 1 when an instance asked for does not exist or cannot be read, or nothing could be written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from rdsssl_reconcile.cli.options import endpoint_option, parallelism_option, paths_argument, timeout_option
from rdsssl_reconcile.textsafe import visible


@click.command(name="import")
@paths_argument
@click.option("--region", required=True, metavar="REGION", help="The region to import, e.g. cn-hangzhou.")
@click.option(
    "--instance",
    "instances",
    multiple=True,
    metavar="ID",
    help="Import only this instance (repeatable). Default: every PostgreSQL instance of the region.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write the specs into (created if missing): DIR/REGION/ID.yaml and DIR/REGION/certs/ID/.",
)
@click.option("--force", is_flag=True, help="Overwrite files edited since the last import.")
@click.option(
    "--key-ref",
    type=click.Choice(["env", "file"]),
    default="env",
    show_default=True,
    help="How imported specs reference a custom certificate's private key, which is never written: "
    "{env: ID_SERVER_KEY} or {file: certs/ID/server.key}.",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@endpoint_option
@parallelism_option
@timeout_option
def import_(
    paths: tuple[Path, ...],
    region: str,
    instances: tuple[str, ...],
    out: Path,
    force: bool,
    key_ref: str,
    output_format: str,
    endpoint: str | None,
    parallelism: int,
    timeout: float,
) -> int:
    """Write specs describing the live SSL configuration of a region's instances (read-only on the cloud).

    Public certificates (server, client CA, CRL) are written as PEM files beside the specs; private keys
    are never written: the spec references the key to provide, and the import names it per instance.
    Importing again changes nothing; a spec edited since is not overwritten without --force. The target is
    found as for plan (--endpoint, RDSSSL_ENDPOINT, a _target.yaml in PATHS or specs/, else Alibaba Cloud).
    """
    from rdsssl_reconcile.cli.runner import report_retry
    from rdsssl_reconcile.clock import SystemClock
    from rdsssl_reconcile.cloud.port import ReadOnlyView
    from rdsssl_reconcile.cloud.session import connect
    from rdsssl_reconcile.cloud.target import resolve_target
    from rdsssl_reconcile.live.inventory import read_inventory
    from rdsssl_reconcile.spec.import_writer import GITIGNORE, write_import
    from rdsssl_reconcile.spec.importer import ImportedInstance, SkippedInstance, import_instance
    from rdsssl_reconcile.spec.selection import parse_selection

    parse_selection([region], [])  # the same check of the region id as plan --region
    spec_paths = list(paths) if paths else [Path("specs")]
    target = resolve_target(endpoint_option=endpoint, spec_paths=spec_paths)
    now = SystemClock().now()
    with connect(target, timeout_seconds=timeout, on_retry=report_retry) as connection:
        inventory = read_inventory(ReadOnlyView(connection.client), region, instances, parallelism=parallelism)
        described = connection.target.describe()
    results = [
        import_instance(item, key_ref="file" if key_ref == "file" else "env", now=now) for item in inventory.items
    ]
    imported = [r for r in results if isinstance(r, ImportedInstance)]
    skipped = [r for r in results if isinstance(r, SkippedInstance)]
    files = [file for r in imported for file in r.files]
    if imported:
        files.append(GITIGNORE)
    outcomes = {o.path: o.action.value for o in write_import(out, files, force=force)} if files else {}
    failed = [*inventory.not_found, *(i for i, _ in inventory.errors)]
    if output_format == "json":
        click.echo(json.dumps(_json(described, region, out, imported, skipped, inventory, outcomes), indent=2))
    else:
        click.echo(_text(described, region, out, imported, skipped, inventory, outcomes), nl=False)
    return 1 if failed else 0


def _spec_action(instance: Any, outcomes: dict[str, str]) -> str:
    actions = {outcomes.get(path, "unchanged") for path, _ in instance.files}
    for action in ("overwritten", "updated", "created"):
        if action in actions:
            return action
    return "unchanged"


def _text(
    described: str,
    region: str,
    out: Path,
    imported: list[Any],
    skipped: list[Any],
    inventory: Any,
    outcomes: dict[str, str],
) -> str:
    v = visible
    lines = [f"Import of {v(region)} from {v(described)} into {v(str(out))} (read-only: Describe actions only)", ""]
    for instance in imported:
        action = _spec_action(instance, outcomes)
        lines.append(f"  + {v(instance.instance_id)}: {v(instance.summary)}")
        lines.append(f"      {v(str(out / instance.spec_path))} ({action})")
        if instance.key is not None:
            lines.append(f"      key to provide: {v(instance.key.describe())}")
        lines += [f"      note: {v(note)}" for note in instance.notes]
    for instance in skipped:
        lines.append(f"  - {v(instance.instance_id)}: skipped, {v(instance.reason)}")
    for instance_id in inventory.not_found:
        lines.append(f"  ! {v(instance_id)}: not found in {v(region)}")
    for instance_id, error in inventory.errors:
        lines.append(
            f"  ! {v(instance_id)}: cannot be read: {v(error.action)} failed: {v(error.code)}: {v(error.message)}"
        )
    counts: dict[str, int] = {}
    for action in outcomes.values():
        counts[action] = counts.get(action, 0) + 1
    shown = ", ".join(f"{counts[a]} {a}" for a in ("created", "updated", "overwritten", "unchanged") if a in counts)
    keys = [i for i in imported if i.key is not None]
    lines.append("")
    lines.append(
        f"Import: {len(imported)} imported, {len(skipped)} skipped"
        + (
            f", {len(inventory.not_found) + len(inventory.errors)} failed"
            if inventory.not_found or inventory.errors
            else ""
        )
        + (f"; files: {shown}." if shown else "; no files written.")
    )
    if keys:
        lines.append(
            f"{len(keys)} private key(s) to provide before plan can run: {', '.join(v(i.instance_id) for i in keys)}."
        )
    if imported:
        lines.append(f"Check it: rdsssl-reconcile plan {v(str(out / region))} --detailed-exitcode")
    return "\n".join(lines) + "\n"


def _json(
    described: str,
    region: str,
    out: Path,
    imported: list[Any],
    skipped: list[Any],
    inventory: Any,
    outcomes: dict[str, str],
) -> dict[str, Any]:
    return {
        "target": described,
        "region": region,
        "out": str(out),
        "imported": [
            {
                "id": i.instance_id,
                "spec": i.spec_path,
                "action": _spec_action(i, outcomes),
                "summary": i.summary,
                "key_to_provide": None
                if i.key is None
                else {
                    i.key.kind: i.key.written,
                    "public_key_sha256": i.key.public_key_sha256,
                    "certificate_sha256": i.key.certificate_sha256,
                },
                "notes": list(i.notes),
            }
            for i in imported
        ],
        "skipped": [{"id": s.instance_id, "reason": s.reason} for s in skipped],
        "not_found": list(inventory.not_found),
        "errors": [{"id": i, "action": e.action, "code": e.code, "message": e.message} for i, e in inventory.errors],
        "files": dict(sorted(outcomes.items())),
    }

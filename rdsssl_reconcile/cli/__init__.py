"""The ``rdsssl-reconcile`` command line: a thin layer over the library.

Subcommands are registered by import path and loaded only when invoked, so ``--help``, ``validate``
and ``certs`` never import the vendor SDK (most of a cloud command's start-up: ``benchmarks/bench_startup.py``).

Exit codes (documented in the README's "Exit codes" table): what a plan's instances mean for ``plan``
and ``apply`` is decided by one table, :mod:`rdsssl_reconcile.planning.outcome`; errors before that
(bad input, refused plan, API failure, internal error: 1, never a traceback for user errors) and
interruption (130) are decided here.

Every error message goes through :func:`~rdsssl_reconcile.textsafe.visible_lines` on its way out:
messages quote paths, values and API answers, and none of them may act on the terminal.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import io
import os
import sys
import traceback
from typing import Any

import click

from rdsssl_reconcile import __version__
from rdsssl_reconcile.cli.color import attach_color_options, color_from_environment
from rdsssl_reconcile.errors import CloudError, UserError
from rdsssl_reconcile.textsafe import visible, visible_lines

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130

#: name -> "module:attribute" of a click command, imported on first use.
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("rdsssl_reconcile.cli.plan_cmd:validate", "Check specs offline: schema, files, keys, coverage."),
    "plan": ("rdsssl_reconcile.cli.plan_cmd:plan", "Show what would change, and which changes restart."),
    "schema": ("rdsssl_reconcile.cli.plan_cmd:schema", "Print the JSON Schema of the spec format."),
    "show": ("rdsssl_reconcile.cli.show_cmd:show", "Show a saved plan exactly as reviewed (offline)."),
    "apply": ("rdsssl_reconcile.cli.apply_cmd:apply", "Carry out a plan, safely, and prove it landed."),
    "drift": ("rdsssl_reconcile.cli.drift_cmd:drift", "Report drift from the specs, and why (read-only)."),
    "certs": ("rdsssl_reconcile.cli.certs_cmd:certs", "Create CAs, issue, inspect and check certificates."),
    "probe": (
        "rdsssl_reconcile.cli.probe_cmd:probe",
        "Check the API's answers against the tool's assumptions (read-only).",
    ),
    "import": (
        "rdsssl_reconcile.cli.import_cmd:import_",
        "Write specs that describe the live SSL configuration (read-only).",
    ),
    "merge": ("rdsssl_reconcile.cli.merge_cmd:merge", "Merge JSON plans or drift reports (CI shards) into one."),
    "verify": (
        "rdsssl_reconcile.cli.verify_cmd:verify",
        "Connect to each endpoint as a client does and check what it serves (TLS).",
    ),
    "emulator": ("rdsssl_reconcile.cli.emulator_cmd:emulator", "Run the local RDS OpenAPI emulator."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when they run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in _COMMANDS if self._available(name)]

    @staticmethod
    def _available(name: str) -> bool:
        module_name = _COMMANDS[name][0].split(":")[0]
        return importlib.util.find_spec(module_name) is not None

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS or not self._available(cmd_name):
            return None
        module_name, attribute = _COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return attach_color_options(command)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="rdsssl-reconcile")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Manage SSL on ApsaraDB RDS for PostgreSQL the way Terraform manages infrastructure.

    Declare SSL in YAML specs, review a restart-aware plan, apply it safely and prove it landed.
    Run `rdsssl-reconcile plan` in a directory with a specs/ folder to start.
    """
    # NO_COLOR / FORCE_COLOR for every command; a command's --color / --no-color overrides (cli/color.py).
    ctx.color = color_from_environment(os.environ)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn every outcome into one of the documented exit codes."""
    code = run(argv)
    # The vendor SDK leaves some 100,000 objects (thousands of model classes) for the interpreter's
    # final collections: 0.3-0.6 s of exit on a loaded 2-core machine, 0.05 s once they are frozen out
    # of the collector. Unlike os._exit this skips nothing: atexit handlers and flushes still run.
    gc.freeze()
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code instead of exiting (tests call this)."""
    debug = os.environ.get("RDSSSL_DEBUG") == "1"
    try:
        result: Any = cli.main(args=argv, prog_name="rdsssl-reconcile", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        # Usage errors exit 1, not click's 2: with --detailed-exitcode, 2 must only ever mean "changes".
        # click quotes the value it refuses (a path, a choice) without escaping it.
        shown = io.StringIO()
        exc.show(file=shown)
        click.echo(visible_lines(shown.getvalue()), err=True, nl=False)
        return EXIT_ERROR
    except UserError as exc:
        click.echo(f"Error: {visible_lines(str(exc))}", err=True)
        return EXIT_ERROR
    except CloudError as exc:
        request = f" (request id {visible(exc.request_id)})" if exc.request_id else ""
        click.echo(
            f"Error: {visible(exc.action)} failed: {visible(exc.code)}: {visible(exc.message)}{request}", err=True
        )
        return EXIT_ERROR
    except OSError as exc:
        # A path the user gave that the system refuses (name too long, permissions, a full disk) is
        # an environment problem with a clear cause, not a bug: say which file and why.
        if debug:
            traceback.print_exc()
        where = f"{visible(str(exc.filename))}: " if exc.filename else ""
        click.echo(f"Error: {where}{visible(exc.strerror or type(exc).__name__)}", err=True)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into a clean exit
        if debug:
            traceback.print_exc()
        click.echo(
            f"Internal error: {type(exc).__name__}. This is a bug in rdsssl-reconcile; "
            "set RDSSSL_DEBUG=1 to see the traceback.",
            err=True,
        )
        return EXIT_ERROR
    return int(result) if isinstance(result, int) else EXIT_OK

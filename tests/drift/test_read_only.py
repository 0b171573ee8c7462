"""drift is read-only by construction: its code path cannot reach a modify (issue 11, acceptance 1).

Three checks, each of which a change to the code could break: (1) the drift modules, its renderers and its
command import nothing of apply but the audit log reader, nothing of the request builder and not the SDK
adapter, and never name ``modify_ssl``; (2) importing the whole drift path does not load apply's executor;
(3) the command hands the library a :class:`ReadOnlyView`, which has no ``modify_ssl`` at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from rdsssl_reconcile.cloud.port import ReadOnlyView
from tests.test_architecture import PACKAGE, imported_modules

DRIFT_PATH = sorted(
    [
        *(PACKAGE / "drift").glob("*.py"),
        *(PACKAGE / "render").glob("drift_*.py"),
        PACKAGE / "cli" / "drift_cmd.py",
    ]
)
ALLOWED_FROM_APPLY = {"rdsssl_reconcile.apply.audit"}
FORBIDDEN = ("rdsssl_reconcile.planning.request", "rdsssl_reconcile.cloud.sdk", "alibabacloud")


def test_the_drift_path_is_what_this_test_checks() -> None:
    names = {str(p.relative_to(PACKAGE)) for p in DRIFT_PATH}
    assert {"drift/edge.py", "drift/assess.py", "cli/drift_cmd.py", "render/drift_json.py"} <= names


def test_no_import_of_apply_or_the_request_builder_and_no_modify_call() -> None:
    for path in DRIFT_PATH:
        names = imported_modules(path)
        # Lazily imported modules count too: imported_modules walks the whole tree, function bodies included.
        apply = {n for n in names if n == "rdsssl_reconcile.apply" or n.startswith("rdsssl_reconcile.apply.")}
        assert apply <= ALLOWED_FROM_APPLY, (path, apply)
        assert not {n for n in names if n.startswith(FORBIDDEN)}, path
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr != "modify_ssl", (path, node.lineno)
            if isinstance(node, ast.ImportFrom):
                assert not {a.name for a in node.names} & {"build_parameters", "planned_request", "wire_parameters"}


def test_importing_the_drift_path_does_not_load_apply() -> None:
    modules = ["rdsssl_reconcile." + str(p.relative_to(PACKAGE).with_suffix("")).replace("/", ".") for p in DRIFT_PATH]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.startswith('rdsssl_reconcile.apply')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['rdsssl_reconcile.apply', 'rdsssl_reconcile.apply.audit']"


def test_the_command_reads_through_a_read_only_view() -> None:
    tree = ast.parse((PACKAGE / "cli" / "drift_cmd.py").read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "run_drift"]
    assert len(calls) == 1
    first = calls[0].args[0]
    assert isinstance(first, ast.Call)
    assert getattr(first.func, "id", None) == "ReadOnlyView"
    assert not hasattr(ReadOnlyView(object()), "modify_ssl")  # type: ignore[arg-type]

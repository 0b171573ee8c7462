"""Architecture rules that code review alone would let slip: checked on the source itself."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rdsssl_reconcile"
SDK_PREFIXES = ("alibabacloud", "darabonba", "Tea")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_cloud_sdk_imports_the_vendor_sdk() -> None:
    importers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith(SDK_PREFIXES) for name in imported_modules(path))
    )
    assert importers == ["cloud/sdk.py"]


def test_planner_is_pure() -> None:
    """The planner decides from values: no SDK, no clock, no files, no network, no logging."""
    forbidden = {"time", "os", "socket", "logging", "subprocess", "urllib", "pathlib", "rdsssl_reconcile.cloud"}
    for module in ("planner.py", "rules.py", "eligibility.py", "request.py", "model.py", "policy.py"):
        names = imported_modules(PACKAGE / "planning" / module)
        assert not {n for n in names if n.split(".")[0] in forbidden or n.startswith("rdsssl_reconcile.cloud")}, module


def test_only_yaml_source_imports_yaml() -> None:
    importers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "yaml" in imported_modules(p))
    assert importers == ["spec/yaml_source.py"]

"""Load a package that only re-exports its submodules' names one name at a time, on first use.

The RDS SDK's ``models`` package is such a package: its ``__init__.py`` is 1,710 lines like
``from ._describe_dbinstances_request import DescribeDBInstancesRequest`` over 1,276 modules (the models
of the whole RDS API), and the SDK's client imports it at module level. That was 38% of the SDK's import
(docs/apply-pacing.md, "Fixed costs"), paid by every command that calls the cloud, for the five
requests this tool ever sends. :func:`load_reexports_on_demand` puts in its place a module of the same
name, path and spec whose attributes are the same objects, each imported from the submodule the
``__init__`` names the first time it is read (PEP 562 ``__getattr__``). Nothing of the SDK is changed or
copied: every model comes from the SDK's own module, and the SDK's own code runs as it is.

It only ever does this when it can prove the ``__init__`` does nothing else: every line must be a comment,
blank, ``from __future__ import annotations``, a one-name relative re-export, or part of the ``__all__``
list. Anything else (a new SDK release that computes something there) and the package is left to the
normal import, which then loads it whole, as before.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

_REEXPORT = re.compile(r"from \.(?P<module>\w+) import (?P<name>\w+)")
_INERT = re.compile(r"|#.*|from __future__ import annotations|__all__ = \[|\s+\w+,?|\]")


def reexported_names(source: str) -> dict[str, str] | None:
    """Name -> submodule for an ``__init__`` made only of re-exports; ``None`` if it does anything else."""
    names: dict[str, str] = {}
    for line in source.splitlines():
        line = line.rstrip()
        found = _REEXPORT.fullmatch(line)
        if found is not None:
            names[found["name"]] = found["module"]
        elif _INERT.fullmatch(line) is None:
            return None
    return names


def load_reexports_on_demand(package: str) -> bool:
    """Make ``package`` import each re-exported name on first use; ``False`` (nothing done) if it cannot.

    Nothing is done when the package is already imported, cannot be found, is not a regular package
    with an ``__init__.py`` on disk, or its ``__init__`` is not only re-exports (:func:`reexported_names`).
    """
    if package in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return False
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return False
    try:
        source = Path(spec.origin).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    names = reexported_names(source)
    if names is None:
        return False
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(_resolver(module, package, names))
    sys.modules[package] = module
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)  # as the import system does for a loaded submodule
    return True


def _resolver(module: ModuleType, package: str, names: dict[str, str]) -> dict[str, object]:
    def __getattr__(name: str) -> object:
        submodule = names.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # import_module holds the import system's per-module lock, so worker threads reading their
        # first model at once all get the one module object, and so the one class.
        value = getattr(importlib.import_module(f"{package}.{submodule}"), name)
        module.__dict__.setdefault(name, value)  # later reads find it without calling here
        return value

    def __dir__() -> list[str]:
        return sorted(set(module.__dict__) | set(names))

    return {"__getattr__": __getattr__, "__dir__": __dir__, "__all__": list(names)}

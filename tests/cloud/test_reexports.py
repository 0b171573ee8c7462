"""The SDK's models package loaded name by name: the same objects, only the modules that are used.

Each check that needs a fresh interpreter (nothing of the package imported yet) runs in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rdsssl_reconcile.cloud.reexports import reexported_names

RDS_MODELS = "alibabacloud_rds20140815.models"


def run_python(code: str, *, path: Path | None = None) -> str:
    prelude = f"import sys; sys.path.insert(0, {str(path)!r})\n" if path is not None else ""
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_sdk_client_imports_only_the_models_a_plan_uses() -> None:
    out = run_python(
        f"""
        import json, sys
        import rdsssl_reconcile.cloud.sdk as sdk
        before = sorted(name for name in sys.modules if name.startswith("{RDS_MODELS}."))
        sdk.rds_models.DescribeDBInstanceSSLRequest(dbinstance_id="pgm-1")
        after = sorted(name for name in sys.modules if name.startswith("{RDS_MODELS}."))
        print(json.dumps([before, after]))
        """
    )
    before, after = json.loads(out)
    assert before == []
    assert after == [f"{RDS_MODELS}._describe_dbinstance_sslrequest"]


def test_every_model_name_resolves_to_the_class_the_whole_import_gives() -> None:
    """All 1,700-odd names, against the package imported the usual way in another fresh interpreter."""
    describe = "json.dumps({name: f'{value.__module__}.{value.__qualname__}' for name, value in pairs})"
    whole = run_python(
        f"""
        import json
        import {RDS_MODELS} as models
        pairs = [(name, value) for name, value in vars(models).items() if isinstance(value, type)]
        print({describe})
        """
    )
    out = run_python(
        f"""
        import json
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        assert load_reexports_on_demand("{RDS_MODELS}")
        import {RDS_MODELS} as models
        pairs = [(name, getattr(models, name)) for name in dir(models) if not name.startswith("_")]
        print({describe})
        """
    )
    expected = json.loads(whole)
    resolved = json.loads(out)
    assert len(expected) > 1500
    assert resolved == expected


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """``shop/models``: a re-export-only ``__init__`` over two submodules, one holding two classes."""
    models = tmp_path / "shop" / "models"
    models.mkdir(parents=True)
    (tmp_path / "shop" / "__init__.py").write_text("")
    (models / "_cart.py").write_text("class Cart: ...\nclass CartLine: ...\n")
    (models / "_order.py").write_text("from shop import models as main_models\nclass Order:\n    line = 'x'\n")
    (models / "__init__.py").write_text(
        "# -*- coding: utf-8 -*-\n# generated\nfrom __future__ import annotations\n\n"
        "from ._cart import Cart\nfrom ._cart import CartLine\nfrom ._order import Order\n\n"
        "__all__ = [\n    Cart,\n    CartLine,\n    Order\n]\n"
    )
    return tmp_path


def test_names_are_imported_on_first_read_and_cached(package: Path) -> None:
    out = run_python(
        """
        import json, sys
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        assert load_reexports_on_demand("shop.models")
        from shop import models
        seen = [sorted(n for n in sys.modules if n.startswith("shop.models."))]
        from shop.models import CartLine
        seen.append(sorted(n for n in sys.modules if n.startswith("shop.models.")))
        assert models.CartLine is CartLine is sys.modules["shop.models._cart"].CartLine
        assert "CartLine" in vars(models)
        seen.append(sorted(n for n in dir(models) if not n.startswith("_")))
        print(json.dumps(seen))
        """,
        path=package,
    )
    assert json.loads(out) == [[], ["shop.models._cart"], ["Cart", "CartLine", "Order"]]


def test_an_unknown_name_is_an_attribute_error(package: Path) -> None:
    out = run_python(
        """
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        assert load_reexports_on_demand("shop.models")
        import shop.models
        try:
            shop.models.Refund
        except AttributeError as error:
            print(error)
        """,
        path=package,
    )
    assert out.strip() == "module 'shop.models' has no attribute 'Refund'"


def test_threads_reading_their_first_name_at_once_get_one_class(package: Path) -> None:
    out = run_python(
        """
        import threading
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        assert load_reexports_on_demand("shop.models")
        import shop.models
        start = threading.Barrier(16)
        seen = []
        def read():
            start.wait()
            seen.append(shop.models.Order)
        threads = [threading.Thread(target=read) for _ in range(16)]
        for thread in threads: thread.start()
        for thread in threads: thread.join()
        print(len(seen), len({id(value) for value in seen}))
        """,
        path=package,
    )
    assert out.split() == ["16", "1"]


def test_an_init_that_does_anything_else_is_left_to_the_normal_import(package: Path) -> None:
    init = package / "shop" / "models" / "__init__.py"
    init.write_text(init.read_text() + "DEFAULT_PAGE = 30\n")
    out = run_python(
        """
        import sys
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        print(load_reexports_on_demand("shop.models"), "shop.models" in sys.modules)
        import shop.models
        print(shop.models.DEFAULT_PAGE, "shop.models._order" in sys.modules)
        """,
        path=package,
    )
    assert out.split() == ["False", "False", "30", "True"]


def test_an_imported_or_missing_package_is_not_touched(package: Path) -> None:
    out = run_python(
        """
        from rdsssl_reconcile.cloud.reexports import load_reexports_on_demand
        import shop.models
        whole = shop.models
        print(load_reexports_on_demand("shop.models"), load_reexports_on_demand("shop.nothing"),
              load_reexports_on_demand("nowhere.models"))
        import sys
        print(sys.modules["shop.models"] is whole)
        """,
        path=package,
    )
    assert out.split() == ["False", "False", "False", "True"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ._a import A\nfrom ._a import B\n", {"A": "_a", "B": "_a"}),
        ("# comment\n\nfrom __future__ import annotations\n__all__ = [\n    A,\n    B\n]\n", {}),
        ("from ._a import A, B\n", None),
        ("from . import _a\n", None),
        ("from ._a import A as B\n", None),
        ("import os\n", None),
        ("from ._a import *\n", None),
        ("if True:\n    A = 1\n", None),
    ],
)
def test_only_a_file_of_one_name_re_exports_counts(source: str, expected: dict[str, str] | None) -> None:
    assert reexported_names(source) == expected

"""load_specs pauses the cyclic garbage collector while it runs, and always leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.spec import loader

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def collector_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.enable() if was else gc.disable()


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(body)
    return path


def test_the_collector_is_off_during_the_load_and_back_on_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector_state: None
) -> None:
    seen: list[bool] = []
    real = loader.load_yaml_file
    monkeypatch.setattr(loader, "load_yaml_file", lambda f: (seen.append(gc.isenabled()), real(f))[1])
    gc.enable()
    spec = loader.load_specs(
        [_spec(tmp_path, "instances:\n  - {id: pgm-aaa, region: cn-hangzhou, ssl: {enabled: false}}\n")], now=NOW
    )
    assert [i.id for i in spec.instances] == ["pgm-aaa"]
    assert seen == [False]
    assert gc.isenabled()


def test_a_refused_spec_leaves_the_collector_on(tmp_path: Path, collector_state: None) -> None:
    gc.enable()
    with pytest.raises(SpecError):
        loader.load_specs([_spec(tmp_path, "instances:\n  - {id: X}\n")], now=NOW)
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_caller_stays_off(tmp_path: Path, collector_state: None) -> None:
    gc.disable()
    loader.load_specs(
        [_spec(tmp_path, "instances:\n  - {id: pgm-aaa, region: cn-hangzhou, ssl: {enabled: false}}\n")], now=NOW
    )
    assert not gc.isenabled()


def test_paused_with_freeze_freezes_what_lives_at_the_end_and_only_then(collector_state: None) -> None:
    from rdsssl_reconcile import collector

    gc.unfreeze()
    gc.enable()
    try:
        with collector.paused(freeze=True):
            kept = [object() for _ in range(1000)]
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept)
        gc.unfreeze()
        with pytest.raises(RuntimeError), collector.paused(freeze=True):
            raise RuntimeError("load failed")
        assert gc.get_freeze_count() == 0  # an error: nothing frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_loading_leaves_no_yaml_nodes_for_the_cyclic_collector(tmp_path: Path, collector_state: None) -> None:
    """The specs are frozen right after loading: nodes left in a reference cycle would be frozen too."""
    import yaml

    body = "instances:\n" + "".join(
        f"  - {{id: pgm-n{i:03d}, region: cn-hangzhou, ssl: {{enabled: false}}}}\n" for i in range(50)
    )
    gc.collect()
    gc.disable()
    loader.load_specs([_spec(tmp_path, body)], now=NOW)
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        left = [o for o in gc.garbage if isinstance(o, yaml.Node | yaml.Mark | yaml.BaseLoader)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []

"""import's files: scalars that load back exactly, and a writer that never overwrites an edit (issue 11)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.spec.import_writer import MANIFEST, FileAction, write_import
from rdsssl_reconcile.spec.importer import env_name
from rdsssl_reconcile.spec.yaml_source import load_yaml_text, yaml_scalar


@given(st.one_of(st.text(max_size=60), st.booleans(), st.integers()))
def test_a_scalar_loads_back_as_itself(value: str | bool | int) -> None:
    text = yaml_scalar(value)
    assert "\n" not in text
    for document in (f"key: {text}\n", f"key: [{text}, x]\n"):
        loaded = load_yaml_text(document, Path("x.yaml"))
        assert not loaded.problems, (value, text)
        got = loaded.data["key"]
        got = got if isinstance(got, str | bool | int) else got[0]
        assert got == value
        assert type(got) is type(value)


@pytest.mark.parametrize("value", ["\x1b[2A", "a\u202eb", "line\nbreak", "\x07"])
def test_control_and_format_characters_are_escaped(value: str) -> None:
    assert yaml_scalar(value).isprintable()


def test_env_names() -> None:
    assert env_name("pgm-bp1-orders") == "PGM_BP1_ORDERS_SERVER_KEY"


def files(text: str = "a") -> list[tuple[str, str]]:
    return [("r/one.yaml", f"one {text}\n"), ("r/certs/x/server.crt", "cert\n")]


def test_created_unchanged_updated_and_edited(tmp_path: Path) -> None:
    first = write_import(tmp_path, files(), force=False)
    assert [o.action for o in first] == [FileAction.CREATED, FileAction.CREATED]
    assert (tmp_path / "r" / "one.yaml").stat().st_mode & 0o777 == 0o644
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["r/certs/x/server.crt", "r/one.yaml"]
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    again = write_import(tmp_path, files(), force=False)
    assert [o.action for o in again] == [FileAction.UNCHANGED, FileAction.UNCHANGED]
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes
    moved = write_import(tmp_path, files("b"), force=False)  # the live state moved; no one edited the file
    assert moved[0].action is FileAction.UPDATED
    (tmp_path / "r" / "one.yaml").write_text("my edit\n")
    with pytest.raises(UserError) as info:
        write_import(tmp_path, files("c"), force=False)
    assert "  - r/one.yaml" in str(info.value)
    assert (tmp_path / "r" / "one.yaml").read_text() == "my edit\n"
    forced = write_import(tmp_path, files("c"), force=True)
    assert forced[0].action is FileAction.OVERWRITTEN
    assert (tmp_path / "r" / "one.yaml").read_text() == "one c\n"


def test_a_file_no_import_wrote_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "one.yaml").write_text("hand-written\n")
    with pytest.raises(UserError, match="not written by an import"):
        write_import(tmp_path, files(), force=False)
    assert not (tmp_path / MANIFEST).exists()
    assert not (tmp_path / "r" / "certs").exists()  # all or nothing


def test_a_bad_manifest_or_a_special_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST).write_text("{}")
    with pytest.raises(UserError, match="not an import manifest"):
        write_import(tmp_path, files(), force=False)
    (tmp_path / MANIFEST).unlink()
    (tmp_path / "r").mkdir()
    os.mkfifo(tmp_path / "r" / "one.yaml")
    with pytest.raises(UserError, match="exists and is not a regular file"):
        write_import(tmp_path, files(), force=True)


def test_key_material_is_never_written(tmp_path: Path) -> None:
    key = CertificateAuthority.create("t", now=datetime.now(UTC)).key_pem()
    with pytest.raises(AssertionError, match="holds a private key"):
        write_import(tmp_path, [("r/x.crt", key)], force=True)
    assert list(tmp_path.iterdir()) == []

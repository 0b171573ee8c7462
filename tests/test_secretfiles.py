"""secretfiles: keys are 0600 from creation, nothing is overwritten without force."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rdsssl_reconcile.errors import UserError
from rdsssl_reconcile.secretfiles import (
    OutputFileError,
    ensure_directory,
    refuse_existing,
    write_public_file,
    write_secret_file,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_secret_file_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = write_secret_file(tmp_path / "server.key", "secret\n", force=False)
    finally:
        os.umask(previous)
    assert mode(path) == 0o600
    assert path.read_text() == "secret\n"


def test_secret_file_is_0600_even_with_a_narrow_umask(tmp_path: Path) -> None:
    previous = os.umask(0o777)
    try:
        path = write_secret_file(tmp_path / "server.key", b"secret", force=False)
    finally:
        os.umask(previous)
    assert mode(path) == 0o600


def test_public_file_is_0644(tmp_path: Path) -> None:
    assert mode(write_public_file(tmp_path / "server.crt", "cert", force=False)) == 0o644


def test_existing_file_is_never_overwritten_without_force(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.write_text("old")
    with pytest.raises(OutputFileError, match=r"refusing to overwrite existing file: .*server\.key") as caught:
        write_secret_file(path, "new", force=False)
    assert isinstance(caught.value, UserError)
    assert "new" not in str(caught.value)
    assert path.read_text() == "old"


def test_force_replaces_atomically_and_still_0600(tmp_path: Path) -> None:
    path = tmp_path / "server.key"
    path.write_text("old")
    path.chmod(0o644)
    write_secret_file(path, "new", force=True)
    assert path.read_text() == "new"
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.key"]  # no temp file left behind


def test_force_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    link = tmp_path / "server.key"
    link.symlink_to(target)
    with pytest.raises(OutputFileError):
        write_secret_file(link, "new", force=False)
    write_secret_file(link, "new", force=True)
    assert target.read_text() == "keep me"
    assert not link.is_symlink()
    assert link.read_text() == "new"


def test_refuse_existing_names_every_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("")
    (tmp_path / "c").write_text("")
    with pytest.raises(OutputFileError) as caught:
        refuse_existing([tmp_path / "a", tmp_path / "b", tmp_path / "c"], force=False)
    assert str(tmp_path / "a") in str(caught.value)
    assert str(tmp_path / "c") in str(caught.value)
    assert str(tmp_path / "b") not in str(caught.value)
    refuse_existing([tmp_path / "a"], force=True)


def test_ensure_directory_creates_0700_and_refuses_a_file(tmp_path: Path) -> None:
    created = ensure_directory(tmp_path / "new" / "dir")
    assert mode(created) == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputFileError, match="not a directory"):
        ensure_directory(tmp_path / "file")


def test_unwritable_directory_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match="cannot create"):
        write_secret_file(tmp_path / "missing-dir" / "server.key", "x", force=False)


def test_the_refusal_names_the_calling_commands_option_only(tmp_path: Path) -> None:
    (tmp_path / "server.key").write_text("old")
    with pytest.raises(OutputFileError) as certs_refusal:
        write_secret_file(tmp_path / "server.key", "new", force=False)
    assert str(certs_refusal.value).endswith("(replace with --force, or write elsewhere)")
    with pytest.raises(OutputFileError) as apply_refusal:
        refuse_existing([tmp_path / "server.key"], force=False, option="--force-export")
    assert str(apply_refusal.value).endswith("(replace with --force-export, or write elsewhere)")

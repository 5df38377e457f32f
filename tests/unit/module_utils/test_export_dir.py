"""export_dir: put a finished export in place (replacing the old one), remove one; idempotent,
check mode, confined to the export directory."""

from __future__ import annotations

import os

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.export_dir import (
    CONFIG_FILE,
    ExportDirError,
    place_export,
    remove_export,
)

CONFIG = "[export]\nversion = 0\n"


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "export"
    base.mkdir()
    return base


def _new(root, name="inst1", dump=b"NEW"):
    source = root / f".{name}.new-abc"
    source.mkdir()
    (source / "disk0.dump").write_bytes(dump)
    return source


def test_place_replaces_the_old_export_and_keeps_nothing_aside(root):
    old = root / "inst1"
    old.mkdir()
    (old / "disk0.dump").write_bytes(b"OLD")
    source = _new(root)
    assert place_export(str(old), str(source), CONFIG, str(root)) is True
    assert (old / "disk0.dump").read_bytes() == b"NEW"
    assert (old / CONFIG_FILE).read_text() == CONFIG
    assert oct(os.stat(old / CONFIG_FILE).st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in root.iterdir()) == ["inst1"]     # no .old-*, no .new-*


def test_place_again_changes_nothing(root):
    source = _new(root)
    assert place_export(str(root / "inst1"), str(source), CONFIG, str(root)) is True
    assert place_export(str(root / "inst1"), str(source), CONFIG, str(root)) is False


def test_place_without_disks_makes_the_directory(root):
    source = root / ".inst1.new-xyz"
    assert place_export(str(root / "inst1"), str(source), CONFIG, str(root)) is True
    assert sorted(os.listdir(root / "inst1")) == [CONFIG_FILE]


def test_check_mode_changes_nothing(root):
    source = _new(root)
    assert place_export(str(root / "inst1"), str(source), CONFIG, str(root),
                        check_mode=True) is True
    assert not (root / "inst1").exists() and source.is_dir()
    assert remove_export(str(source), str(root), check_mode=True) is True
    assert source.is_dir()


@pytest.mark.parametrize("path", ["../elsewhere", "inst1/sub", ".", ".."])
def test_paths_outside_the_export_directory_are_refused(root, path):
    victim = root.parent / "elsewhere"
    victim.mkdir()
    with pytest.raises(ExportDirError, match="not a directory directly inside"):
        remove_export(os.path.join(str(root), path), str(root))
    assert victim.is_dir()


def test_symlink_escape_is_refused(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(ExportDirError):
        remove_export(str(root / "link" / "x"), str(root))


def test_remove(root):
    source = _new(root)
    assert remove_export(str(source), str(root)) is True
    assert not source.exists()
    assert remove_export(str(source), str(root)) is False

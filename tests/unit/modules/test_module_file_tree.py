"""gnt.cluster.file_tree: a directory tree sent as a base64 tarball and installed under a
destination (node_prepare's OS definitions and ExtStorage providers): check mode, only what
differs written, modes masked, members that would leave the destination or are not files or
directories refused with nothing written, links never followed."""

from __future__ import annotations

import base64
import io
import os
import stat
import tarfile
from pathlib import Path

from ansible_collections.gnt.cluster.plugins.module_utils import file_tree


def pack(members: list[tuple[str, str, bytes | None, int]], compression: str = "gz") -> str:
    """A base64 tarball of ``(name, kind, data, mode)`` members (kind "dir", "file", "link",
    "fifo"; a link's data is its target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as archive:
        for name, kind, data, mode in members:
            info = tarfile.TarInfo(name)
            info.mode = mode
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif kind == "file":
                info.size = len(data or b"")
                archive.addfile(info, io.BytesIO(data or b""))
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, (data or b"").decode()
                archive.addfile(info)
            else:
                info.type = tarfile.FIFOTYPE
                archive.addfile(info)
    return base64.b64encode(buffer.getvalue()).decode()


OS_TREE = [(".", "dir", None, 0o755), ("./blank", "dir", None, 0o755),
           ("./blank/create", "file", b"#!/bin/sh\nexit 0\n", 0o4777),
           ("./blank/variants.list", "file", b"default\n", 0o664),
           ("./.gnt-lib", "dir", None, 0o700)]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_check_mode_then_install_then_idempotent(run_module, tmp_path):
    dest = tmp_path / "os"                 # missing: made, as the check run says
    args = {"trees": [{"dest": str(dest), "archive": pack(OS_TREE)}]}
    ok, result = run_module("file_tree", args, check=True)
    assert ok and result["changed"] is True
    assert result["installed"][str(dest)] == ["created .gnt-lib", "created blank",
                                              "created blank/create",
                                              "created blank/variants.list"]
    assert not dest.exists()

    ok, result = run_module("file_tree", args)
    assert ok and result["changed"] is True
    assert (dest / "blank" / "create").read_bytes() == b"#!/bin/sh\nexit 0\n"
    assert mode(dest / "blank" / "create") == 0o755        # no set-id, no group/other write
    assert mode(dest / "blank" / "variants.list") == 0o644
    assert mode(dest / ".gnt-lib") == 0o700

    ok, result = run_module("file_tree", args)
    assert ok and result["changed"] is False and result["installed"] == {str(dest): []}


def test_only_what_differs_is_written_and_extra_files_stay(run_module, tmp_path):
    dest = tmp_path / "os"
    args = {"trees": [{"dest": str(dest), "archive": pack(OS_TREE)}]}
    run_module("file_tree", args)
    script = dest / "blank" / "create"
    inode = os.stat(script).st_ino
    (dest / "blank" / "variants.list").write_bytes(b"changed\n")
    os.chmod(script, 0o700)
    (dest / "blank" / "local-notes").write_text("mine\n")
    ok, result = run_module("file_tree", args)
    assert ok and result["changed"] is True
    assert result["installed"][str(dest)] == ["mode 0755 blank/create",
                                              "updated blank/variants.list"]
    assert os.stat(script).st_ino == inode                  # same content: chmod only
    assert (dest / "blank" / "variants.list").read_bytes() == b"default\n"
    assert (dest / "blank" / "local-notes").read_text() == "mine\n"


def test_two_trees_in_one_run_plain_tar_too(run_module, tmp_path):
    ext = [("filevol", "dir", None, 0o755), ("filevol/create", "file", b"x", 0o755)]
    args = {"trees": [{"dest": str(tmp_path / "os"), "archive": pack(OS_TREE)},
                      {"dest": str(tmp_path / "ext"), "archive": pack(ext, "")}]}
    ok, result = run_module("file_tree", args)
    assert ok and sorted(result["installed"]) == [str(tmp_path / "ext"), str(tmp_path / "os")]
    assert (tmp_path / "ext" / "filevol" / "create").read_bytes() == b"x"


def test_bad_members_are_refused_before_anything_is_written(run_module, tmp_path):
    good = {"dest": str(tmp_path / "first"), "archive": pack(OS_TREE)}
    for members, message in [
            ([("../escape", "file", b"x", 0o644)], "archive member ../escape is outside"),
            ([("/etc/evil", "file", b"x", 0o644)], "archive member /etc/evil is outside"),
            ([("a/../../b", "file", b"x", 0o644)], "is outside the destination"),
            ([("link", "link", b"/etc/passwd", 0o777)], "link is not a regular file"),
            ([("fifo", "fifo", None, 0o644)], "fifo is not a regular file")]:
        bad = {"dest": str(tmp_path / "second"), "archive": pack(members)}
        ok, result = run_module("file_tree", {"trees": [good, bad]})
        assert not ok and message in result["msg"], result
        assert not (tmp_path / "first").exists() and not (tmp_path / "second").exists()
    ok, result = run_module("file_tree", {"trees": [{"dest": str(tmp_path / "x"),
                                                    "archive": "not base64!"}]})
    assert not ok and "the archive is not base64" in result["msg"]
    ok, result = run_module("file_tree", {"trees": [{"dest": str(tmp_path / "x"),
                                                    "archive": "aGVsbG8="}]})
    assert not ok and "the archive cannot be read" in result["msg"]
    assert not (tmp_path / "x").exists()


def test_links_on_the_node_are_not_followed(run_module, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "os"
    dest.mkdir()
    (dest / "blank").symlink_to(outside)             # a directory the tarball has is a link
    ok, result = run_module("file_tree", {"trees": [{"dest": str(dest),
                                                    "archive": pack(OS_TREE)}]})
    assert not ok and "blank exists and is not a directory" in result["msg"]
    assert list(outside.iterdir()) == []
    (dest / "blank").unlink()
    (dest / "blank").mkdir()
    target = outside / "target"
    target.write_text("keep\n")
    (dest / "blank" / "create").symlink_to(target)   # a file the tarball has is a link
    ok, result = run_module("file_tree", {"trees": [{"dest": str(dest),
                                                    "archive": pack(OS_TREE)}]})
    assert ok and "updated blank/create" in result["installed"][str(dest)]
    assert target.read_text() == "keep\n"
    assert not (dest / "blank" / "create").is_symlink()


def test_entries_sorted_parents_first():
    found = file_tree.entries(pack([("b/c", "file", b"1", 0o644), ("b", "dir", None, 0o755),
                                    ("a-b", "file", b"2", 0o600)]))
    assert [(name, is_dir, mode) for name, is_dir, mode, _data in found] == [
        ("a-b", False, 0o600), ("b", True, 0o755), ("b/c", False, 0o644)]


def test_a_destination_that_is_not_a_directory_is_refused(run_module, tmp_path):
    for dest in (tmp_path / "file", tmp_path / "link"):
        if dest.name == "file":
            dest.write_text("keep\n")
        else:
            (tmp_path / "real").mkdir()
            dest.symlink_to(tmp_path / "real")       # not followed
        for check in (True, False):
            ok, result = run_module("file_tree", {"trees": [{"dest": str(dest),
                                                            "archive": pack(OS_TREE)}]},
                                    check=check)
            assert not ok and f"{dest} exists and is not a directory" in result["msg"]
    assert (tmp_path / "file").read_text() == "keep\n"
    assert list((tmp_path / "real").iterdir()) == []

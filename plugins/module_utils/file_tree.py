# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module_utils conventions (see docs/node-primitives.md)
"""A directory of files shipped in the module's arguments (a tarball, base64) and installed
under a destination directory: what ``node_prepare`` does with the bundled OS definitions
and ExtStorage providers, in one module run on the node instead of ``unarchive``'s file
transfer and ``tar`` listings (seconds on a small node).

Only directories and regular files are taken; a member with an absolute name, a ``..``
part, or of another kind (link, device, fifo) is refused before anything is written. Modes
come from the tarball without set-id/sticky bits and group/other write. A file is written
(a temporary file renamed over it) only when its content differs; a differing mode alone is
set with ``chmod``. Files under the destination that the tarball does not list are left
alone, and an existing symbolic link where the tarball has a directory is refused (nothing is
written through it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import errno
import io
import os
import stat
import tarfile

MODE_MASK = 0o755   # no set-id or sticky bit, no group/other write


class FileTreeError(Exception):
    """A tarball that cannot be installed; the message names the member or path."""


def entries(archive_b64):
    """The tarball's members as sorted ``(relative name, is_dir, mode, data)`` (data None for
    directories), parents before their contents. Raises FileTreeError naming a bad member."""
    try:
        raw = base64.b64decode(archive_b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as err:
        raise FileTreeError("the archive is not base64: %s" % err) from None
    found = []
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as archive:
            for member in archive.getmembers():
                name = _relative(member.name)
                if name is None:
                    continue
                mode = member.mode & MODE_MASK
                if member.isdir():
                    found.append((name, True, mode, None))
                elif member.isreg():
                    handle = archive.extractfile(member)
                    found.append((name, False, mode, handle.read() if handle else b""))
                else:
                    raise FileTreeError("archive member %s is not a regular file or a"
                                        " directory" % member.name)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise FileTreeError("the archive cannot be read: %s" % err) from None
    found.sort(key=lambda entry: entry[0].split("/"))
    return found


def _relative(name):
    """``name`` without ``./``; None for the top directory itself; FileTreeError when it
    would leave the destination."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise FileTreeError("archive member %s is outside the destination" % name)
    return "/".join(parts) or None


def install(dest, wanted, check_mode=False):
    """Install ``wanted`` (:func:`entries` of a tarball) under ``dest`` (made 0755 when
    missing). Returns what was (in check mode: would be) done, ``["created a/b", "updated c",
    "mode 0755 d"]``."""
    if not os.path.isabs(dest):
        raise FileTreeError("%s is not an absolute path" % dest)
    done = []
    info = _lstat(dest)
    if info is None or not stat.S_ISDIR(info.st_mode):
        if info is not None:
            raise FileTreeError("%s exists and is not a directory" % dest)
        if check_mode:
            return ["created %s" % name for name, _d, _m, _data in wanted]
        os.makedirs(dest, 0o755)
    for name, is_dir, mode, data in wanted:
        path = os.path.join(dest, name)
        if is_dir:
            action = _directory(path, mode, check_mode)
        else:
            action = _file(path, mode, data, check_mode)
        if action:
            done.append("%s %s" % (action, name))
    return done


def _lstat(path):
    """``os.lstat(path)``, or None when nothing is there."""
    try:
        return os.lstat(path)
    except OSError as err:
        if err.errno != errno.ENOENT:
            raise
        return None


def _directory(path, mode, check_mode):
    info = _lstat(path)
    if info is None:
        if not check_mode:
            os.mkdir(path, mode)
            os.chmod(path, mode)
        return "created"
    if not stat.S_ISDIR(info.st_mode):
        raise FileTreeError("%s exists and is not a directory (a link is not followed)" % path)
    if stat.S_IMODE(info.st_mode) != mode:
        if not check_mode:
            os.chmod(path, mode)
        return "mode %04o" % mode
    return None


def _file(path, mode, data, check_mode):
    info = _lstat(path)
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size == len(data):
        with open(path, "rb") as handle:
            same = handle.read() == data
        if same:
            if stat.S_IMODE(info.st_mode) == mode:
                return None
            if not check_mode:
                os.chmod(path, mode)
            return "mode %04o" % mode
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise FileTreeError("%s is a directory, the archive has a file there" % path)
    if not check_mode:
        _write(path, mode, data)
    return "created" if info is None else "updated"


def _write(path, mode, data):
    """``data`` into ``path`` through a temporary file renamed over it (a link at ``path``
    is replaced, not followed)."""
    tmp = os.path.join(os.path.dirname(path), ".%s.gnt-tmp" % os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
        os.rename(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise

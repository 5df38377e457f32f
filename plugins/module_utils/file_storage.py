# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031 -- Ansible module conventions (see docs/node-primitives.md)
"""File-backed instance disks (the ``file`` and ``sharedfile`` disk templates).

A disk is a raw image file inside one of the configured storage directories (the cluster's
file and shared-file storage dirs). Every path is resolved (symlinks, ``..``) before use and
refused when it does not lie strictly inside one of the allowed directories, so a bad spec
can never create or delete files elsewhere on a node.

Functions take ``check_mode``: when true they compute and return what would change without
touching the filesystem. They return plain dicts and raise :class:`FileStorageError` with a
message naming the disk and the cause. No Ansible import: the coordinator may reuse them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os

MIB = 1024 * 1024


class FileStorageError(Exception):
    """A file disk operation that cannot be done; the message names the path and the cause."""


def _ceil_mib(nbytes):
    return (int(nbytes) + MIB - 1) // MIB


def resolve_allowed(path, allowed_dirs):
    """Return the resolved absolute ``path`` if it lies strictly inside one of ``allowed_dirs``.

    Both sides are resolved with :func:`os.path.realpath` (symlinks and ``..`` removed; the
    path itself need not exist). The directories themselves are not valid disk paths.
    Raises :class:`FileStorageError` naming the path and the allowed directories otherwise.
    """
    if not path or not os.path.isabs(path):
        raise FileStorageError("disk path %r is not an absolute path" % (path,))
    dirs = [d for d in (allowed_dirs or []) if d]
    if not dirs:
        raise FileStorageError("disk path %s: no allowed storage directories configured" % path)
    resolved = os.path.realpath(path)
    for directory in dirs:
        base = os.path.realpath(directory)
        if resolved.startswith(base.rstrip(os.sep) + os.sep):
            return resolved
    raise FileStorageError(
        "disk path %s (resolved %s) is outside the allowed storage directories: %s"
        % (path, resolved, ", ".join(dirs)))


def disk_info(path):
    """Return ``{"path", "exists", "size_mib", "allocated_mib"}`` for the file at ``path``.

    ``size_mib`` is the apparent size, ``allocated_mib`` the space really used (sparse files
    use less); both rounded up to whole MiB, 0 when the file does not exist.
    Raises :class:`FileStorageError` if ``path`` exists but is not a regular file.
    """
    try:
        st = os.stat(path)
    except OSError as err:
        if err.errno == errno.ENOENT:
            return {"path": path, "exists": False, "size_mib": 0, "allocated_mib": 0}
        raise FileStorageError("cannot stat disk %s: %s" % (path, err.strerror)) from err
    if not os.path.isfile(path):
        raise FileStorageError("disk path %s exists but is not a regular file" % path)
    return {
        "path": path,
        "exists": True,
        "size_mib": _ceil_mib(st.st_size),
        "allocated_mib": _ceil_mib(getattr(st, "st_blocks", 0) * 512),
    }


def inspect_disk(path, allowed_dirs, size_mib=None):
    """Read-only report on the disk at ``path`` (checked against ``allowed_dirs``).

    Returns the :func:`disk_info` dict of the resolved path plus ``size_mismatch``: true
    when ``size_mib`` is given and an existing file has another size. Changes nothing.
    """
    info = disk_info(resolve_allowed(path, allowed_dirs))
    info["size_mismatch"] = bool(size_mib is not None and info["exists"]
                                 and info["size_mib"] != size_mib)
    return info


def _set_size(path, size_mib, preallocate, create):
    """Create (``create``) or grow the file at ``path`` to ``size_mib``."""
    flags = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o600)
    try:
        if preallocate:
            os.posix_fallocate(fd, 0, size_mib * MIB)
        else:
            os.ftruncate(fd, size_mib * MIB)
        os.fsync(fd)
    except OSError:
        os.close(fd)
        fd = -1
        if create:
            _unlink_quiet(path)
        raise
    finally:
        if fd >= 0:
            os.close(fd)


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _makedirs(directory):
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)


def _remove_empty_parent(path, allowed_dirs, check_mode):
    """Remove the parent directory of ``path`` if it is empty and not an allowed dir itself."""
    parent = os.path.dirname(path)
    bases = set(os.path.realpath(d) for d in allowed_dirs if d)
    if os.path.realpath(parent) in bases or not os.path.isdir(parent):
        return False
    try:
        resolve_allowed(parent, allowed_dirs)
    except FileStorageError:
        return False
    if os.listdir(parent):
        return False
    if not check_mode:
        os.rmdir(parent)
    return True


def ensure_present(path, allowed_dirs, size_mib=None, preallocate=False, grow=False,
                   rename_from=None, remove_empty_parent=False, check_mode=False):
    """Make sure a disk file exists at ``path`` (optionally moved from ``rename_from``).

    - missing: created with ``size_mib`` (sparse, or fully allocated when ``preallocate``),
      parent directories included;
    - ``rename_from`` exists and ``path`` does not: the file is moved (same filesystem rename);
      when both exist the call fails; when only ``path`` exists the move already happened;
    - existing and smaller than ``size_mib``: grown when ``grow``, else reported as mismatch;
    - existing and larger: fails with "cannot shrink" when ``grow``, else reported.

    Returns the :func:`disk_info` dict plus ``changed``, ``actions`` (list of strings) and
    ``size_mismatch`` (bool).
    """
    target = resolve_allowed(path, allowed_dirs)
    actions = []
    source = resolve_allowed(rename_from, allowed_dirs) if rename_from else None
    info = disk_info(target)
    simulated_size = None
    if source and source != target:
        src_info = disk_info(source)
        if src_info["exists"] and info["exists"]:
            raise FileStorageError(
                "cannot rename disk %s to %s: the target already exists" % (source, target))
        if src_info["exists"]:
            actions.append("renamed from %s" % source)
            if not check_mode:
                try:
                    _makedirs(os.path.dirname(target))
                    os.rename(source, target)
                except OSError as err:
                    raise FileStorageError("cannot rename disk %s to %s: %s"
                                           % (source, target, err.strerror)) from err
                if remove_empty_parent:
                    _remove_empty_parent(source, allowed_dirs, False)
                info = disk_info(target)
            else:
                info = dict(src_info, path=target)
        elif not info["exists"]:
            raise FileStorageError(
                "cannot rename disk %s to %s: neither exists" % (source, target))
    if not info["exists"]:
        if size_mib is None:
            raise FileStorageError("disk %s does not exist and no size_mib was given" % target)
        actions.append("created %d MiB%s" % (size_mib, " preallocated" if preallocate else ""))
        if not check_mode:
            _makedirs(os.path.dirname(target))
            try:
                _set_size(target, size_mib, preallocate, create=True)
            except OSError as err:
                raise FileStorageError("cannot create disk %s (%d MiB): %s"
                                       % (target, size_mib, err.strerror)) from err
            info = disk_info(target)
        else:
            simulated_size = size_mib
    mismatch = False
    current = simulated_size if simulated_size is not None else info["size_mib"]
    if size_mib is not None and current != size_mib:
        if grow and current > size_mib:
            raise FileStorageError(
                "disk %s is %d MiB, cannot shrink it to %d MiB" % (target, current, size_mib))
        if grow:
            actions.append("grown from %d MiB to %d MiB" % (current, size_mib))
            if not check_mode:
                try:
                    _set_size(target, size_mib, preallocate, create=False)
                except OSError as err:
                    raise FileStorageError("cannot grow disk %s to %d MiB: %s"
                                           % (target, size_mib, err.strerror)) from err
                info = disk_info(target)
        else:
            mismatch = True
    result = dict(info)
    if check_mode and simulated_size is not None:
        result.update(exists=True, size_mib=simulated_size,
                      allocated_mib=simulated_size if preallocate else 0)
    elif check_mode and grow and size_mib is not None and current < size_mib:
        result["size_mib"] = size_mib  # as it would be grown
    result.update(path=target, changed=bool(actions), actions=actions, size_mismatch=mismatch)
    return result


def ensure_absent(path, allowed_dirs, remove_empty_parent=False, check_mode=False):
    """Delete the disk file at ``path`` if it exists.

    With ``remove_empty_parent`` the file's directory is removed too when it is then empty
    and is not one of ``allowed_dirs`` itself (the per-instance directory).
    Returns ``{"path", "exists": False, "size_mib": 0, "allocated_mib": 0, "changed",
    "actions"}``.
    """
    target = resolve_allowed(path, allowed_dirs)
    info = disk_info(target)
    actions = []
    if info["exists"]:
        actions.append("removed")
        if not check_mode:
            try:
                os.unlink(target)
            except OSError as err:
                raise FileStorageError("cannot remove disk %s: %s" % (target, err.strerror)) from err
    if remove_empty_parent:
        parent = os.path.dirname(target)
        if check_mode and info["exists"]:
            remaining = [n for n in _listdir(parent) if n != os.path.basename(target)]
            if not remaining and os.path.realpath(parent) not in set(
                    os.path.realpath(d) for d in allowed_dirs if d):
                actions.append("removed empty directory %s" % parent)
        elif _remove_empty_parent(target, allowed_dirs, check_mode):
            actions.append("removed empty directory %s" % parent)
    return {"path": target, "exists": False, "size_mib": 0, "allocated_mib": 0,
            "changed": bool(actions), "actions": actions, "size_mismatch": False}


def diff_view(info):
    """What diff mode shows of a disk: its path, whether it exists and its size in MiB."""
    return {"path": info["path"], "exists": bool(info["exists"]),
            "size_mib": info["size_mib"] if info["exists"] else 0}


def state_before(path, allowed_dirs, rename_from=None):
    """The :func:`diff_view` of the disk before an :func:`ensure_present` or
    :func:`ensure_absent` call with these arguments: the file at ``rename_from`` when that
    one is there and ``path`` is not (the disk a rename moves). Changes nothing; paths
    outside ``allowed_dirs`` raise :class:`FileStorageError` like the operations do."""
    info = disk_info(resolve_allowed(path, allowed_dirs))
    if rename_from and not info["exists"]:
        source = disk_info(resolve_allowed(rename_from, allowed_dirs))
        if source["exists"]:
            info = source
    return diff_view(info)


def _listdir(directory):
    try:
        return os.listdir(directory)
    except OSError:
        return []

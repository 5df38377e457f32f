# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance exports on a node: put a finished export in place, remove one.

An export is a directory directly inside the node's export directory; one being written is a
hidden sibling (``.NAME.new-TOKEN``) until it holds its ``config.ini``. Putting it in place is
two renames (the old export aside, the new one in), so a reader sees the old or the new export,
never half of one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import uuid

CONFIG_FILE = "config.ini"


class ExportDirError(Exception):
    """A refused or failed export directory operation (the message names the path)."""


def _inside(path, export_root):
    """``path`` resolved, refused unless it is a direct child of ``export_root``."""
    root = os.path.realpath(export_root)
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    if os.path.dirname(real) != root or os.path.basename(real) in ("", ".", ".."):
        raise ExportDirError("%s is not a directory directly inside the export directory %s"
                             % (path, export_root))
    return real


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def place_export(path, source, config, export_root, check_mode=False):
    """Put the export written in ``source`` at ``path`` with ``config`` as its config.ini.

    Returns whether anything changed. Already in place (``source`` gone, ``path`` holding the
    same config.ini) changes nothing; a missing ``source`` is made (an instance without disks);
    the previous export at ``path`` is removed once the new one is there.
    """
    path = _inside(path, export_root)
    source = _inside(source, export_root)
    blob = config.encode("utf-8")
    if not os.path.isdir(source) and _read(os.path.join(path, CONFIG_FILE)) == blob:
        return False
    if check_mode:
        return True
    if not os.path.isdir(source):  # an instance without disks: config.ini is all there is
        try:
            os.makedirs(source, 0o700)
        except OSError as err:
            raise ExportDirError("cannot make the export directory %s: %s" % (source, err)) from err
    fd, tmp = tempfile.mkstemp(prefix="." + CONFIG_FILE + ".", dir=source)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(blob)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, os.path.join(source, CONFIG_FILE))
    except OSError as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise ExportDirError("cannot write %s in %s: %s" % (CONFIG_FILE, source, err)) from err
    old = None
    try:
        if os.path.lexists(path):
            old = os.path.join(os.path.dirname(path), ".%s.old-%s"
                               % (os.path.basename(path), uuid.uuid4().hex[:12]))
            os.rename(path, old)
        os.rename(source, path)
    except OSError as err:
        if old is not None and not os.path.lexists(path):
            os.rename(old, path)
        raise ExportDirError("cannot put the export %s in place at %s: %s"
                             % (source, path, err)) from err
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return True


def export_config(path, export_root):
    """The text of the ``config.ini`` of the export at ``path`` ("" when there is none), what
    diff mode shows of an export. ``path`` is checked like the operations check it."""
    blob = _read(os.path.join(_inside(path, export_root), CONFIG_FILE))
    return blob.decode("utf-8", "replace") if blob is not None else ""


def remove_export(path, export_root, check_mode=False):
    """Remove the export (or unfinished export) ``path``; returns whether it existed."""
    path = _inside(path, export_root)
    if not os.path.lexists(path):
        return False
    if check_mode:
        return True
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError as err:
        raise ExportDirError("cannot remove %s: %s" % (path, err)) from err
    return True

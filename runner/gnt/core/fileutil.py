"""Small filesystem helpers shared by the config store and the job queue.

Everything written here is private from the moment it exists: files are created 0600 (temp
file made by ``mkstemp``, mode set on the open descriptor before any byte is written),
directories 0700 (``os.mkdir`` with the mode, never a ``chmod`` afterwards). A write that fails
raises :class:`OSError` naming the file, and leaves no temp file behind.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
DIR_MODE = 0o700

LOG = logging.getLogger("gnt.core.fileutil")


def ensure_dir(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` and every missing parent with ``mode`` (0700); existing ones are kept."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
        except FileExistsError:
            pass


def temp_prefix(path: Path) -> str:
    """Name prefix of the temp files :func:`atomic_write` makes next to ``path``."""
    return f".{path.name}."


def _named(err: OSError, path: Path | str) -> OSError:
    """``err`` with ``path`` as its file name if it has none (``write()`` errors lack it)."""
    if err.filename is not None or err.errno is None:
        return err
    named = type(err)(err.errno, err.strerror or os.strerror(err.errno), str(path))
    named.__cause__ = err
    return named


def atomic_write(path: Path, data: bytes, keep_previous: Path | None = None, mode: int = FILE_MODE,
                 sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same dir, fsync, rename.

    The temp file has ``mode`` before it holds data. With ``keep_previous``, the old file (if
    any) is hard-linked there first, so a copy of the previous version survives the replacement.
    ``sync=False`` skips the fsyncs (still atomic through rename). Any failure raises an
    :class:`OSError` naming ``path`` (or the file that failed) and removes the temp file.
    """
    ensure_dir(path.parent)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        if keep_previous is not None and path.exists():
            keep_tmp = keep_previous.with_name(keep_previous.name + ".tmp")
            keep_tmp.unlink(missing_ok=True)
            os.link(path, keep_tmp)
            os.replace(keep_tmp, keep_previous)
        os.replace(tmp, path)
        tmp = None
        if sync:
            _fsync_dir(path.parent)
    except OSError as err:
        raise _named(err, path) from err
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_private(path: Path, data: bytes = b"", mode: int = FILE_MODE) -> None:
    """Create a new file (never an existing one, never through a symlink) with ``mode`` from
    the start and write ``data``; a failed write removes the half-written file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as err:
        path.unlink(missing_ok=True)
        raise _named(err, path) from err


def write_json(path: Path, obj: Any, keep_previous: Path | None = None, sync: bool = True) -> None:
    """Serialise ``obj`` as JSON and write it atomically, 0600 (see :func:`atomic_write`).

    ``sync=False`` skips the fsyncs (still atomic through rename); used for job files whose
    loss in a power cut costs a status update, not consistency.
    """
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    atomic_write(path, data, keep_previous, sync=sync)


def read_json(path: Path) -> Any:
    """Load a JSON file."""
    with open(path, "rb") as handle:
        return json.load(handle)


def remove_temp_files(directory: Path, prefix: str) -> list[Path]:
    """Delete the temp files a killed writer left in ``directory`` (names starting with
    ``prefix``, e.g. ``.config.data.``); returns what was removed, each logged."""
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and not entry.is_dir():
            try:
                entry.unlink()
            except OSError as err:
                if err.errno != errno.ENOENT:
                    LOG.warning("Cannot remove stale temp file %s: %s", entry, err)
                continue
            LOG.warning("Removed temp file %s left by an interrupted write", entry)
            removed.append(entry)
    return removed

"""Small filesystem helpers shared by the config store and the job queue."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes, keep_previous: Path | None = None, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same dir, fsync, rename.

    With ``keep_previous``, the old file (if any) is hard-linked there first, so a copy of the
    previous version survives the replacement.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if keep_previous is not None and path.exists():
            keep_tmp = keep_previous.with_name(keep_previous.name + ".tmp")
            keep_tmp.unlink(missing_ok=True)
            os.link(path, keep_tmp)
            os.replace(keep_tmp, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, obj: Any, keep_previous: Path | None = None, sync: bool = True) -> None:
    """Serialise ``obj`` as JSON and write it atomically (see :func:`atomic_write`).

    ``sync=False`` skips the fsyncs (still atomic through rename); used for job files whose
    loss in a power cut costs a status update, not consistency.
    """
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    if sync:
        atomic_write(path, data, keep_previous)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(obj)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """Load a JSON file."""
    with open(path, "rb") as handle:
        return json.load(handle)

"""The node's end of config replication (:mod:`gnt.nodes.replication`) when it is relayed to
the node's warm interpreter (:mod:`gnt.nodes.relay`): the files the master sends, put into the
data directory each renamed into place (a reader never sees half a file), as the shell command
of :func:`gnt.nodes.replication.unpack_command` does with a tar. Standard library only: it runs
in a fork of the node's warm interpreter, so that a push starts no process on the node."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping


def _checked_name(name: str) -> str:
    """``name`` if it is a plain file name (no directory part), else ValueError."""
    if name in ("", ".", "..") or os.path.basename(name) != name:
        raise ValueError(f"refusing pushed file {name!r}: not a plain file name")
    return name


def _holds(path: str, mode: int, content: bytes) -> bool:
    """Whether the regular file ``path`` already has ``mode`` and ``content``."""
    try:
        with open(path, "rb") as current:
            info = os.fstat(current.fileno())
            if (not stat.S_ISREG(info.st_mode) or info.st_mode & 0o777 != mode
                    or info.st_size != len(content)):
                return False
            return current.read() == content
    except OSError:
        return False


def put_files(data_dir: str, files: Mapping[str, tuple[int, bytes]],
              remove: Iterable[str] = ()) -> list[str]:
    """Put ``files`` (name -> (mode, content)) into ``data_dir`` (made 0700 with its parents
    if missing) through a private temporary directory beside them; a file that already holds
    that content with that mode is left as it is. Then delete the files named in ``remove``.
    Returns the names written.

    A bad name raises before any file is replaced or removed."""
    for name in (*files, *remove):
        _checked_name(name)
    os.umask(0o077)
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    changed = [name for name, (mode, content) in sorted(files.items())
               if not _holds(os.path.join(data_dir, name), mode & 0o777, content)]
    if changed:
        tmp = tempfile.mkdtemp(prefix=".push.", dir=data_dir)
        try:
            for name in changed:
                mode, content = files[name]
                path = os.path.join(tmp, name)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(content)
                os.chmod(path, mode & 0o777)
            for name in changed:
                os.rename(os.path.join(tmp, name), os.path.join(data_dir, name))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for name in remove:
        try:
            os.unlink(os.path.join(data_dir, name))
        except FileNotFoundError:
            pass
    return changed

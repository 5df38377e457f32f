"""Small file helpers shared by tests in several directories (on sys.path via conftest)."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIB = 1024 * 1024


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def sparse_file(path: Path, size: int) -> Path:
    """Create (or truncate) ``path`` as a sparse file of ``size`` bytes."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


@contextmanager
def mounted_tmpfs(size: str, prefix: str) -> Iterator[Path]:
    """A fresh directory with a tmpfs of ``size`` (e.g. ``"16m"``) mounted on it (needs root);
    unmounted and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(root)],
                   check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)


def fill(root: Path, leave: int = 0) -> Path:
    """Fill the file system of ``root`` with one file, leaving about ``leave`` bytes free.

    With ``leave=0`` it writes until the file system refuses (ENOSPC), in ever smaller pieces
    down to one byte, so not even a page is left; calling it again tops the file system up.
    """
    filler = root / "filler"
    stat = os.statvfs(root)
    size = max(0, stat.f_bavail * stat.f_frsize - leave)
    with open(filler, "ab", buffering=0) as handle:
        try:
            while size > 0:
                size -= handle.write(b"\0" * min(size, 1 << 20))
            chunk = 1 << 20
            while leave == 0 and chunk:
                try:
                    handle.write(b"\0" * chunk)
                except OSError as err:
                    if err.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        except OSError as err:
            assert err.errno == errno.ENOSPC
    return filler

"""Small file helpers shared by tests in several directories (on sys.path via conftest)."""

from __future__ import annotations

import hashlib
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

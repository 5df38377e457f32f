"""Test-wide set-up: make the collection importable as ``ansible_collections.gnt.cluster``."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _collection_import_root() -> Path:
    """A directory whose ``ansible_collections/gnt/cluster`` links to this checkout."""
    base = Path(tempfile.gettempdir()) / f"gnt-test-collections-{os.getuid()}-{hashlib.sha256(str(REPO).encode()).hexdigest()[:16]}"
    link = base / "ansible_collections" / "gnt" / "cluster"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or link.resolve() != REPO:
        tmp = link.with_name(f"cluster.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(REPO)
        os.replace(tmp, link)
    return base


COLLECTIONS_ROOT = _collection_import_root()
if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))
os.environ.setdefault("GNT_COLLECTION_ROOT", str(REPO))

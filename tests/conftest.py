"""Test-wide set-up: make the collection importable as ``ansible_collections.gnt.cluster``."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from gnt._collection import link_collection

REPO = Path(__file__).resolve().parents[1]


def _collection_import_root() -> Path:
    """A directory whose ``ansible_collections/gnt/cluster`` links to this checkout."""
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:16]
    return link_collection(Path(tempfile.gettempdir()) / f"gnt-test-collections-{os.getuid()}-{digest}",
                           REPO)


COLLECTIONS_ROOT = _collection_import_root()
# Shared test helpers (tests/gnt_testutil.py) import as top-level modules.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))
if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))
os.environ.setdefault("GNT_COLLECTION_ROOT", str(REPO))

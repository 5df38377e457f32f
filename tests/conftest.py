"""Test-wide set-up: make the collection importable as ``ansible_collections.gnt.cluster``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GNT_COLLECTION_ROOT", str(REPO))

from gnt.core.collection import ensure_importable  # noqa: E402  (reads GNT_COLLECTION_ROOT)

# ``ansible_collections.gnt.cluster`` imports from this checkout, with nothing put on sys.path.
ensure_importable()
# Shared test helpers (tests/gnt_testutil.py) import as top-level modules.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

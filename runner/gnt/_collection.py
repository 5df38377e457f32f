"""Import the collection's ``plugins/module_utils`` from the coordinator (plain Python).

The coordinator reuses pure helpers of the node primitives (size parsing, libvirt queries,
OS discovery). They live in the collection as
``ansible_collections.gnt.cluster.plugins.module_utils.<name>``; this module makes that import
path resolve to the checkout named by :func:`gnt.settings.collection_root`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from . import settings

_PACKAGE = "ansible_collections.gnt.cluster.plugins.module_utils"


def link_collection(base: Path, target: Path | None = None) -> Path:
    """Make ``<base>/ansible_collections/gnt/cluster`` a symlink to the collection root
    (``target``, default :func:`gnt.settings.collection_root`); atomic and thread-safe."""
    target = target or settings.collection_root()
    link = base / "ansible_collections" / "gnt" / "cluster"
    if not (link.is_symlink() and link.resolve() == target):
        link.parent.mkdir(parents=True, exist_ok=True)
        tmp = link.with_name(f".cluster.{os.getpid()}.{threading.get_ident()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
    return base


def _import_root() -> Path:
    """A temp directory whose ``ansible_collections/gnt/cluster`` links to the collection."""
    target = settings.collection_root()
    digest = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    return link_collection(Path(tempfile.gettempdir()) / f"gnt-collections-{os.getuid()}-{digest}",
                           target)


def ensure_importable() -> None:
    """Put the collection on ``sys.path`` unless it is importable already."""
    try:
        importlib.import_module(_PACKAGE)
        return
    except ImportError:
        pass
    sys.path.insert(0, str(_import_root()))
    importlib.invalidate_caches()


def load_module_util(name: str) -> ModuleType:
    """Import ``plugins/module_utils/<name>.py`` of the collection."""
    ensure_importable()
    return importlib.import_module(f"{_PACKAGE}.{name}")

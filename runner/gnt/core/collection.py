"""Import the collection's ``plugins/module_utils`` from the coordinator (plain Python).

The coordinator reuses pure helpers of the node primitives (size parsing, libvirt queries,
OS discovery). They live in the collection as
``ansible_collections.gnt.cluster.plugins.module_utils.<name>``; this module makes that import
path resolve to the checkout named by :func:`gnt.core.settings.collection_root`, without putting
any directory on ``sys.path`` (DESIGN.md safety rules: nothing is imported from a path another
user could write).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType

from gnt.core import settings

_PACKAGE = "ansible_collections.gnt.cluster.plugins.module_utils"


def link_collection(base: Path, target: Path | None = None) -> Path:
    """Make ``<base>/ansible_collections/gnt/cluster`` a symlink to the collection root
    (``target``, default :func:`gnt.core.settings.collection_root`); atomic and thread-safe.

    ``base`` must be a private directory of ours (the cluster's Ansible home under GNT_ROOT);
    the directories made here are 0700.
    """
    target = target or settings.collection_root()
    link = base / "ansible_collections" / "gnt" / "cluster"
    if not (link.is_symlink() and link.resolve() == target):
        for parent in (base, base / "ansible_collections", link.parent):
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = link.with_name(f".cluster.{os.getpid()}.{threading.get_ident()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        os.replace(tmp, link)
    return base


def _alias_package(name: str, locations: list[str]) -> None:
    """Register ``name`` as a package whose submodules are searched in ``locations``."""
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = locations
    sys.modules[name] = importlib.util.module_from_spec(spec)


def ensure_importable() -> None:
    """Make ``ansible_collections.gnt.cluster`` import from :func:`gnt.core.settings.collection_root`.

    Nothing is added to ``sys.path`` and no link is made anywhere: the three package levels
    are registered in ``sys.modules`` with the collection root as the search location of
    ``ansible_collections.gnt.cluster``, so only files of the installed collection (root-owned,
    the checkout or install prefix) are ever imported, never a same-named package found on
    ``sys.path`` (which may hold the working directory). A collection package already imported
    in this process is left as it is.
    """
    if "ansible_collections.gnt.cluster" in sys.modules:
        return
    root = settings.collection_root()
    for name in ("ansible_collections", "ansible_collections.gnt"):
        if name not in sys.modules:
            _alias_package(name, [])
    _alias_package("ansible_collections.gnt.cluster", [str(root)])
    importlib.invalidate_caches()


def load_module_util(name: str) -> ModuleType:
    """Import ``plugins/module_utils/<name>.py`` of the collection."""
    ensure_importable()
    return importlib.import_module(f"{_PACKAGE}.{name}")

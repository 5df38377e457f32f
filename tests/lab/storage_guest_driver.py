"""Runs one operation of gnt.cluster's storage module_utils on the node it runs on (a lab guest
node with real LVM and DRBD 8.4), for tests/lab/test_storage_guest.py.

Usage: ``python storage_guest_driver.py '<json>'`` with ``{"kind": "lvm", "vg": VG, "call":
METHOD, "args": [...], "kwargs": {...}}``, ``{"kind": "lvm-report", "call": "list_vgs" |
"list_pvs" | "list_lvs", "args": [...]}`` or ``{"kind": "drbd", "call": METHOD, "spec": {...,
"net": {...}}, "kwargs": {...}}`` (``spec`` becomes the first argument; ``minor`` instead of a spec
for down/info/status). Prints the result as JSON (``{"error": MESSAGE}`` and exit 1 on a
StorageError). Commands run through ``subprocess_runner``, as the coordinator would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("GNT_COLLECTION_ROOT", str(Path(__file__).resolve().parents[2]))

from gnt.core.collection import ensure_importable  # noqa: E402

ensure_importable()

from ansible_collections.gnt.cluster.plugins.module_utils.storage import (  # noqa: E402
    drbd,
    lvm,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (  # noqa: E402
    ActionResult,
    DeviceState,
    StorageError,
    subprocess_runner,
)


def _plain(value: Any) -> Any:
    if isinstance(value, (ActionResult, DeviceState)):
        return value.as_dict()
    if hasattr(value, "as_dict"):
        return value.as_dict()
    return value


def run(op: dict[str, Any]) -> Any:
    """Do ``op`` and return its JSON-able result."""
    args, kwargs = op.get("args", []), op.get("kwargs", {})
    if op["kind"] == "lvm":
        return getattr(lvm.LvmBackend(subprocess_runner, op["vg"]), op["call"])(*args, **kwargs)
    if op["kind"] == "lvm-report":
        return getattr(lvm, op["call"])(subprocess_runner, *args)
    backend = drbd.DrbdBackend(subprocess_runner)
    if "spec" in op:
        spec = dict(op["spec"])
        net = drbd.DrbdNet(**spec.pop("net")) if spec.get("net") else None
        spec.pop("net", None)
        args = [drbd.DrbdSpec(net=net, **spec), *args]
    else:
        args = [op["minor"], *args]
    return getattr(backend, op["call"])(*args, **kwargs)


def main() -> int:
    try:
        result = run(json.loads(sys.argv[1]))
    except StorageError as err:
        print(json.dumps({"error": str(err)}))
        return 1
    print(json.dumps(_plain(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the test run spreads over pytest-xdist workers (scripts/test.sh runs ``-n``).

Rules, from what the tests share on this machine:

- A lab test module keeps its tests together and in order (they build on each other's end
  state), on one worker; every worker brings its labs up in a lab slot of its own.
- The storage lab modules share one session cluster of QEMU guests: one group.
- The other integration modules drive the host's own libvirt (domain names such as ``inst1``
  repeat between modules): one group, run one module after another.
- Unit and sanity tests share nothing: any worker, one test at a time.

Groups are queued longest first, so the long ones start at once and the short ones fill in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
LAB_USE = re.compile(r"start_cluster\(|running_cluster\(|storage_cluster\b|\bLab\(")
STORAGE_GROUP = "storage-lab"
HOST_GROUP = "host-libvirt"
# Queue order: the storage lab (~1000 s), the host group (~1200 s), the ansible-test sanity
# runs (minutes each), the lab modules (under 3 min each), then the unit tests.
ORDER = (STORAGE_GROUP, HOST_GROUP, "sanity", "lab", "unit")
base_slot = 0       # the run's lab slot before the workers took theirs (assign_worker_slot)


def worker_index() -> int | None:
    """This xdist worker's number (``gw1`` → 1), or None outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else None


def worker_lab_slot(base: int, index: int, slots: int) -> int:
    """The lab slot of worker ``index`` when the run was given slot ``base``."""
    return (base + index) % slots


def assign_worker_slot(slot_env: str, slots: int) -> None:
    """Under xdist, give this worker its own lab slot in ``$slot_env`` (the run's own slot,
    default 0, is kept in :data:`base_slot`)."""
    global base_slot
    index = worker_index()
    if index is None:
        return
    base_slot = int(os.environ.get(slot_env) or 0)
    os.environ[slot_env] = str(worker_lab_slot(base_slot, index, slots))


def _uses_lab(path: Path, cache: dict[Path, bool]) -> bool:
    if path not in cache:
        cache[path] = bool(LAB_USE.search(path.read_text()))
    return cache[path]


def scope_of(nodeid: str, cache: dict[Path, bool]) -> str:
    """The xdist work unit of the test ``nodeid``: its group, or the test itself."""
    _kind, group = group_of(TESTS.parent / nodeid.split("::", 1)[0], cache)
    return group if group is not None else nodeid


def group_of(path: Path, cache: dict[Path, bool]) -> tuple[str, str | None]:
    """(queue kind, xdist group or None) of the test module at ``path``."""
    part = path.resolve().relative_to(TESTS).parts[0]
    if part in ("unit", "sanity"):
        return part, None
    if path.name.startswith("test_storage_lab"):
        return STORAGE_GROUP, STORAGE_GROUP
    if _uses_lab(path, cache):
        return "lab", f"lab-{path.stem}"
    if part == "integration":
        return HOST_GROUP, HOST_GROUP
    return "lab", f"lab-{path.stem}"      # tests/lab modules with no lab of their own

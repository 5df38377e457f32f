"""Test-wide set-up: make the collection importable as ``ansible_collections.gnt.cluster``."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GNT_COLLECTION_ROOT", str(REPO))
# Test clusters share this machine's ports: their master daemons start no remote API unless
# a test gives one a port of its own (GNT_RAPI_PORT).
os.environ.setdefault("GNT_RAPI_PORT", "off")

from gnt.core.collection import ensure_importable  # noqa: E402  (reads GNT_COLLECTION_ROOT)

# ``ansible_collections.gnt.cluster`` imports from this checkout, with nothing put on sys.path.
ensure_importable()
# Shared test helpers (tests/gnt_testutil.py) import as top-level modules.
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

import gnt_parallel  # noqa: E402  (tests/ is on sys.path now)
import pytest  # noqa: E402

# Under pytest-xdist every worker brings its labs up in a slot of its own (gnt_parallel).
sys.path.insert(0, str(REPO / "tests" / "lab"))
import labconf  # noqa: E402

gnt_parallel.assign_worker_slot(labconf.SLOT_ENV, labconf.SLOTS)


# The warm module interpreters (gnt.nodes.modexec) that this session's Ansible runs start
# live in a directory of the session's own, and are stopped when the session ends.
_MODEXEC_DIR = Path(tempfile.mkdtemp(prefix="gnt-test-modexec-"))
os.environ.setdefault("GNT_MODEXEC_DIR", str(_MODEXEC_DIR))


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001 - pytest's hook signature
    """Stop the module interpreter servers of this session (by the PID each wrote)."""
    for pid_file in _MODEXEC_DIR.glob("*/pid"):
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
    shutil.rmtree(_MODEXEC_DIR, ignore_errors=True)


_RUN_START = time.monotonic()
#: A test phase that takes this long (seconds; $GNT_LONG_PHASE) gets a line as it ends.
LONG_PHASE = float(os.environ.get("GNT_LONG_PHASE", "60"))


def pytest_runtest_logreport(report):
    """On the controller, as it happens: a line for every failure (with the end of its
    report) and for every test phase that took :data:`LONG_PHASE` seconds or more. A run
    stopped by a time limit prints no summary; these lines say what it spent and what
    failed."""
    if gnt_parallel.worker_index() is not None:
        return
    if not report.failed and report.duration < LONG_PHASE:
        return
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    where = getattr(gateway, "id", "main")
    line = (f"\n[{time.monotonic() - _RUN_START:.0f} s, {where}] {report.nodeid} {report.when}"
            f" {report.outcome} in {report.duration:.0f} s\n")
    if report.failed:
        line += "\n".join(report.longreprtext.splitlines()[-12:]) + "\n"
    sys.stdout.write(line)
    sys.stdout.flush()


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 - pytest's hook signature
    """Under xdist: queue the long groups first (gnt_parallel.ORDER)."""
    if gnt_parallel.worker_index() is None:
        return
    cache: dict[Path, bool] = {}
    items.sort(key=lambda item: gnt_parallel.ORDER.index(
        gnt_parallel.group_of(Path(str(item.path)), cache)[0]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """xdist's scope scheduling with our groups as the scopes (gnt_parallel.scope_of).

    xdist's own ``loadgroup`` marks a group by renaming the test's node ID, which pytest 9
    no longer reads; the scheduler's scope function is the documented way in."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        _paths: dict[Path, bool] = {}

        def _split_scope(self, nodeid: str) -> str:
            return gnt_parallel.scope_of(nodeid, self._paths)

    return GroupScheduling(config, log)

"""gnt-watcher: the periodic repair run (Ganeti's ganeti-watcher), meant for cron.

On the master, unless paused (``gnt-cluster watcher pause``): instances that should run
(admin state up) but do not (``ERROR_down``) on an online node are started again, one job
each; finished jobs older than 6 hours are archived. On other nodes it does nothing (the
master's watcher looks after the whole cluster). Exit code 0 unless a restart job failed.
"""

from __future__ import annotations

import argparse
import sys
import time

from gnt.cli import common
from gnt.cli._jobs import poll_job, stderr, stdout, submit_job
from gnt.cli.cluster_nodes import watcher_paused_until
from gnt.core import resolver, ssconf
from gnt.core.errors import GntError

ARCHIVE_AGE = 6 * 3600


def is_master() -> bool:
    """True on the master (by this node's ssconf; a node without ssconf is not in a cluster)."""
    master = ssconf.read("master_node")
    if not master:
        return False
    return master.split(".")[0] == resolver.this_node_name().split(".")[0]


def restart_down_instances() -> int:
    """Start every instance that should run but does not; returns the number that failed."""
    client = common.get_client()
    result = client.call("query", what="instance", fields=["name", "status"], names=[])
    down = [row[0] for row in result.get("data") or [] if row[1] == "ERROR_down"]
    failed = 0
    for name in down:
        stdout(f"Restarting instance {name} (should run, found stopped)")
        op = common.make_op("OP_INSTANCE_STARTUP", instance_name=name)
        try:
            poll_job(client, submit_job(client, [op], 0, name), feedback=lambda _msg: None)
        except GntError as err:
            failed += 1
            stderr(f"Could not restart instance {name}: {err}")
    return failed


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``gnt-watcher``."""
    parser = argparse.ArgumentParser(prog="gnt-watcher", description=__doc__)
    parser.add_argument("--ignore-pause", action="store_true",
                        help="Run even if the watcher is paused")
    args = parser.parse_args(argv)
    if not is_master():
        sys.exit(0)
    paused = watcher_paused_until()
    if paused and not args.ignore_pause:
        stdout(f"The watcher is paused until {time.ctime(paused)}: nothing done")
        sys.exit(0)
    try:
        failed = restart_down_instances()
        common.get_client().call("autoarchive_jobs", age=ARCHIVE_AGE, timeout=30)
    except GntError as err:
        stderr(f"gnt-watcher: {err}")
        sys.exit(1)
    finally:
        common.reset_client()
    sys.exit(1 if failed else 0)

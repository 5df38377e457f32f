"""Test opcodes: OP_TEST_DELAY (``gnt-debug delay``)."""

from __future__ import annotations

import time
from typing import Any

from gnt.core.locklevels import LEVEL_NODE
from gnt.lu.base import LogicalUnit, register
from gnt.nodes.executor import Play


@register
class LUTestDelay(LogicalUnit):
    """Sleep on the master and/or nodes.

    As Ganeti's delay opcode, unless ``no_locks`` the job holds the locks of the nodes it
    sleeps on, exclusively: the master node (``on_master``, the default) and the ``-n``
    nodes. A second delay job on the same nodes waits for them (and can be cancelled while
    it waits)."""

    OP_ID = "OP_TEST_DELAY"

    def expand_names(self) -> None:
        self.nodes = [self.cfg.lookup("nodes", name) for name in self.op["on_nodes"]]

    def declare_locks(self) -> dict[str, list[str] | str]:
        if self.op["no_locks"]:
            return {}
        uuids = {str(node["uuid"]) for node in self.nodes}
        if self.op["on_master"]:
            uuids.add(str(self.cfg.master_node()["uuid"]))
        return {LEVEL_NODE: sorted(uuids)} if uuids else {}

    def exec(self) -> Any:
        duration = self.op["duration"]
        for _unused in range(max(1, self.op["repeat"])):
            # The nodes and the master sleep at the same time, as in Ganeti (one delay RPC
            # to all of them): the master sleeps what is left after the nodes' run.
            start = time.monotonic()
            if self.nodes:
                hosts = {node["name"]: {"gnt_delay": duration} for node in self.nodes}
                self.run_plays([Play("test_delay", hosts)], "run the delay on the nodes")
            if self.op["on_master"] and duration:
                time.sleep(max(0.0, duration - (time.monotonic() - start)))
        return True

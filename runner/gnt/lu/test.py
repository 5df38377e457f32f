"""Test opcodes: OP_TEST_DELAY (``gnt-debug delay``)."""

from __future__ import annotations

import time
from typing import Any

from gnt.core.locklevels import LEVEL_NODE
from gnt.lu.base import LogicalUnit, register
from gnt.nodes.executor import Play


@register
class LUTestDelay(LogicalUnit):
    """Sleep on the master and/or nodes; with ``no_locks`` false, hold the nodes' locks."""

    OP_ID = "OP_TEST_DELAY"
    SHARED_LEVELS = frozenset({LEVEL_NODE})

    def expand_names(self) -> None:
        self.nodes = [self.cfg.lookup("nodes", name) for name in self.op["on_nodes"]]

    def declare_locks(self) -> dict[str, list[str] | str]:
        if self.op["no_locks"] or not self.nodes:
            return {}
        return {LEVEL_NODE: [str(node["uuid"]) for node in self.nodes]}

    def exec(self) -> Any:
        for _unused in range(max(1, self.op["repeat"])):
            if self.op["on_master"] and self.op["duration"]:
                time.sleep(self.op["duration"])
            if self.nodes:
                hosts = {node["name"]: {"gnt_delay": self.op["duration"]} for node in self.nodes}
                self.run_plays([Play("test_delay", hosts)], "run the delay on the nodes")
        return True

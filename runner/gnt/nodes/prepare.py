"""Preparing a node for the cluster (directories, keys, checks) with the ``node_prepare`` role;
used by cluster init for the first node and by node add for the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gnt.config.store import ConfigStore
from gnt.core.errors import OpExecError
from gnt.nodes import modexec_bundle
from gnt.nodes.executor import Executor, Play
from gnt.nodes.nodevars import node_access, node_vars

Feedback = Callable[[str], None]


def prepare_node(store: ConfigStore, node: dict[str, Any], executor: Executor,
                 feedback: Feedback, after: list[Play] | None = None) -> dict[str, Any]:
    """Run ``node_prepare`` on ``node`` (then the plays ``after``, in the same run: their
    modules run in the warm module interpreter node_prepare installed); returns the node
    facts it reported. It installs the warm module interpreter on the node, and
    ``node["module_interpreter"]`` is set to its launcher (for the caller to record)."""
    prepare = Play("node_prepare", {node["name"]: {"gnt_node": node_vars(store, node),
                                                   "gnt_modexec": modexec_bundle.prepare_vars()}},
                   title="Prepare node")
    result = executor.run([prepare, *(after or [])], {node["name"]: node_access(store, node)},
                          feedback)
    if not result.ok:
        raise OpExecError(f"Could not prepare node {node['name']}:\n{result.failure_summary()}")
    node["module_interpreter"] = modexec_bundle.node_interpreter()
    return result.hosts[node["name"]].facts.get("gnt_node_info", {})

"""Cluster opcodes: destroy (checks), verify, set parameters."""

from __future__ import annotations

import os
from typing import Any

from .. import live, params
from ..config import schema
from ..errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from ..locking import ALL, LEVEL_INSTANCE, LEVEL_NODE
from ..nodevars import node_vars
from .base import LogicalUnit, register


@register
class LUClusterDestroy(LogicalUnit):
    """Check that only the master is left and no instance exists; the CLI then cleans up."""

    OP_ID = "OP_CLUSTER_DESTROY"
    BGL_SHARED = False

    def check_prereq(self) -> None:
        nodes = self.cfg.all("nodes")
        if len(nodes) > 1:
            raise OpPrereqError(f"There are still {len(nodes) - 1} node(s) in this cluster"
                                " (gnt-node remove them first)", ECODE_STATE)
        instances = self.cfg.all("instances")
        if instances:
            names = ", ".join(sorted(i["name"] for i in instances))
            raise OpPrereqError(f"There are still {len(instances)} instance(s) in this cluster"
                                f" ({names}); remove them first", ECODE_STATE)

    def exec(self) -> Any:
        return self.cfg.master_node()["name"]


@register
class LUClusterVerify(LogicalUnit):
    """Verify the config and, on every online node, the hypervisor, storage and instances."""

    OP_ID = "OP_CLUSTER_VERIFY"
    SHARED_LEVELS = frozenset({LEVEL_INSTANCE, LEVEL_NODE})

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_INSTANCE: ALL, LEVEL_NODE: ALL}

    def exec(self) -> Any:
        self.errors = 0
        self.log("* Verifying cluster config")
        try:
            schema.validate(self.cfg.data)
        except Exception as err:  # report, do not stop verifying
            self._error("cluster", "config", str(err))
        instances = self.cfg.all("instances")
        nodes = self.cfg.all("nodes")
        used_paths: set[str] = set()
        for inst in instances:
            for disk in self.cfg.instance_disks(inst):
                used_paths.add(disk["logical_id"][1])
        self.log("* Verifying node status")
        domains = live.domains_by_node(self.cfg, {n["uuid"] for n in nodes})
        for node in nodes:
            if node["offline"]:
                self.log(f"  - NOTICE: node {node['name']} is offline, not checked")
                continue
            if domains.get(node["uuid"]) is None:
                self._error("node", node["name"], "hypervisor (libvirt) did not answer")
                continue
            self._verify_local_node(node, used_paths)
        self.log("* Verifying instance status")
        for inst in instances:
            node = self.cfg.get("nodes", inst["primary_node"])
            status = live.instance_status(inst, node, domains.get(node["uuid"]))
            if status == "ERROR_down":
                self._error("instance", inst["name"],
                            f"instance not running on its primary node {node['name']}")
            elif status == "ERROR_up":
                self._error("instance", inst["name"],
                            f"instance running on {node['name']} but marked down")
            elif status == "ERROR_nodeoffline":
                self._error("instance", inst["name"],
                            f"instance lives on offline node {node['name']}")
        self.log("* Verifying orphan instances")
        known = {i["name"] for i in instances}
        for node in nodes:
            for name, dom in sorted((domains.get(node["uuid"]) or {}).items()):
                if name not in known and dom["state"] == "running":
                    self.log(f"  - WARNING: node {node['name']}: domain {name} is running"
                             " but unknown to the cluster")
        self.log(f"* Verification done: {self.errors} error(s)")
        return {"ok": self.errors == 0, "errors": self.errors}

    def _error(self, kind: str, name: str, message: str) -> None:
        self.errors += 1
        self.log(f"  - ERROR: {kind} {name}: {message}")

    def _verify_local_node(self, node: dict[str, Any], used_paths: set[str]) -> None:
        if node["uuid"] != self.cfg.cluster()["master_node"]:
            return  # other nodes' storage is checked over SSH (multi-node verify)
        nv = node_vars(self.cfg, node)
        for key in ("file_storage_dir", "shared_file_storage_dir"):
            if not os.path.isdir(nv[key]):
                self._error("node", node["name"], f"{key.replace('_', ' ')} {nv[key]} missing")
        for bridge in nv["bridges"]:
            if not os.path.exists(f"/sys/class/net/{bridge}"):
                self._error("node", node["name"], f"bridge {bridge} missing")
        for path in sorted(used_paths):
            if not os.path.exists(path):
                self._error("node", node["name"], f"instance disk {path} missing")
        base = nv["file_storage_dir"]
        if os.path.isdir(base):
            for inst_dir in sorted(os.listdir(base)):
                for disk in sorted(os.listdir(os.path.join(base, inst_dir))) \
                        if os.path.isdir(os.path.join(base, inst_dir)) else []:
                    path = os.path.join(base, inst_dir, disk)
                    if path not in used_paths:
                        self.log(f"  - WARNING: node {node['name']}: orphan disk {path}")


@register
class LUClusterSetParams(LogicalUnit):
    """Change cluster-level parameters (config only; instances see them at next start)."""

    OP_ID = "OP_CLUSTER_SET_PARAMS"
    BGL_SHARED = False

    def check_arguments(self) -> None:
        op = self.op
        self.changes: dict[str, Any] = {}
        if op["hvparams"]:
            self.changes["hvparams"] = {hv: params.check_hvparams(hv, values, allow_default=True)
                                        for hv, values in op["hvparams"].items()}
        if op["beparams"]:
            self.changes["beparams"] = params.check_beparams(op["beparams"], allow_default=True)
        if op["nicparams"]:
            self.changes["nicparams"] = params.check_nicparams(op["nicparams"],
                                                               allow_default=True)
        if op["ndparams"]:
            self.changes["ndparams"] = params.check_ndparams(op["ndparams"], allow_default=True)
        if op["candidate_pool_size"] is not None:
            if op["candidate_pool_size"] < 1:
                raise OpPrereqError("candidate_pool_size must be at least 1", ECODE_INVAL)
        if op["enabled_hypervisors"] is not None:
            for hv in op["enabled_hypervisors"]:
                if hv not in params.HYPERVISORS:
                    raise OpPrereqError(f"Unknown hypervisor '{hv}'", ECODE_INVAL)
            if not op["enabled_hypervisors"]:
                raise OpPrereqError("At least one hypervisor must be enabled", ECODE_INVAL)
        if op["enabled_disk_templates"] is not None:
            for template in op["enabled_disk_templates"]:
                if template not in params.KNOWN_DISK_TEMPLATES:
                    raise OpPrereqError(f"Unknown disk template '{template}'", ECODE_INVAL)

    def check_prereq(self) -> None:
        templates = self.op["enabled_disk_templates"]
        if templates is not None:
            used = {i["disk_template"] for i in self.cfg.all("instances")}
            still = sorted(used - set(templates))
            if still:
                raise OpPrereqError(f"Cannot disable disk template(s) {', '.join(still)}:"
                                    " instances use them", ECODE_STATE)

    def exec(self) -> Any:
        op = self.op

        def change(cluster: dict[str, Any]) -> None:
            for hv, values in self.changes.get("hvparams", {}).items():
                cluster["hvparams"][hv] = params.merge_overrides(
                    cluster["hvparams"].get(hv, {}), values)
            for key in ("beparams", "nicparams", "ndparams"):
                if key in self.changes:
                    cluster[key] = params.merge_overrides(cluster[key], self.changes[key])
            for key in ("candidate_pool_size", "enabled_hypervisors", "enabled_disk_templates",
                        "default_iallocator", "mac_prefix", "maintain_node_health"):
                if op[key] is not None:
                    cluster[key] = op[key]
            if op["osparams"]:
                for os_name, values in op["osparams"].items():
                    cluster["osparams"][os_name] = params.merge_overrides(
                        cluster["osparams"].get(os_name, {}), values)
        self.cfg.modify_cluster(change)
        if op["candidate_pool_size"] is not None:
            from .node import promote_pool

            promote_pool(self)
        return None

"""Cluster opcodes: destroy (checks), set parameters (verify: lu/verify.py)."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, ECODE_STATE, OpPrereqError
from gnt.lu import policy_checks
from gnt.lu.base import LogicalUnit, register
from gnt.opcodes import ipolicy, params, storage


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
        if op["diskparams"]:
            self.changes["diskparams"] = params.check_diskparams(op["diskparams"],
                                                                 allow_default=True)
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
        if op["ipolicy"]:
            self.changes["ipolicy"] = params.check_ipolicy(op["ipolicy"])
        if op["vg_name"]:
            storage.check_vg_name(op["vg_name"])
        if op["reserved_lvs"] is not None:
            storage.check_reserved_lvs(op["reserved_lvs"])

    def check_prereq(self) -> None:
        templates = self.op["enabled_disk_templates"]
        if templates is not None:
            used = {i["disk_template"] for i in self.cfg.all("instances")}
            still = sorted(used - set(templates))
            if still:
                raise OpPrereqError(f"Cannot disable disk template(s) {', '.join(still)}:"
                                    " instances use them", ECODE_STATE)
        cluster = self.cfg.cluster()
        if (templates is not None or self.op["vg_name"] is not None
                or self.op["drbd_helper"] is not None):
            storage.check_modify(
                self._new("vg_name", cluster.get("volume_group_name", "")),
                self._new("drbd_helper", cluster.get("drbd_usermode_helper", "")),
                templates if templates is not None else cluster["enabled_disk_templates"])
        if params.DT_DRBD8 in self.changes.get("diskparams", {}):
            new_cluster = dict(self.cfg.cluster())
            new_cluster["diskparams"] = params.merge_diskparams(
                new_cluster.get("diskparams") or {}, self.changes["diskparams"])
            params.check_drbd_pacing(new_cluster)
            for group in self.cfg.all("nodegroups"):
                params.check_drbd_pacing(new_cluster, group)
        if templates is not None or "ipolicy" in self.changes:
            old_cluster = self.cfg.cluster()
            cluster = dict(old_cluster)
            enabled = templates if templates is not None else cluster["enabled_disk_templates"]
            cluster["enabled_disk_templates"] = enabled
            cluster["ipolicy"] = self._new_ipolicy(cluster.get("ipolicy") or {})
            params.check_ipolicy_templates(params.effective_ipolicy(cluster), enabled)
            if "ipolicy" in self.changes:
                ipolicy.check_std_in_bounds(params.full_ipolicy(cluster))
                self._warn_violations(old_cluster, cluster)

    def _new_ipolicy(self, own: dict[str, Any]) -> dict[str, Any]:
        """The cluster's own policy after this change: the standard values given update the
        cluster's own ones (as Ganeti's), the bounds replace them."""
        changes = dict(self.changes.get("ipolicy", {}))
        if changes.get(ipolicy.STD):
            changes[ipolicy.STD] = {**(own.get(ipolicy.STD) or {}), **changes[ipolicy.STD]}
        return params.merge_overrides(own, changes)

    def _warn_violations(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Warn (as Ganeti) about instances the new policy refuses, group by group."""
        names: list[str] = []
        for group in self.cfg.all("nodegroups"):
            members = {node["uuid"] for node in self.cfg.all("nodes")
                       if node["group"] == group["uuid"]}
            instances = [inst for inst in self.cfg.all("instances")
                         if inst["primary_node"] in members]
            names += policy_checks.new_violations(
                self.cfg, params.full_ipolicy(old, group), params.full_ipolicy(new, group),
                instances)
        policy_checks.warn_new_violations(self.log, sorted(names))

    def _new(self, key: str, current: str) -> str:
        """The value of a string setting after this change."""
        value = self.op[key]
        return current if value is None else value

    def exec(self) -> Any:
        op = self.op

        def change(cluster: dict[str, Any]) -> None:
            for hv, values in self.changes.get("hvparams", {}).items():
                cluster["hvparams"][hv] = params.merge_overrides(
                    cluster["hvparams"].get(hv, {}), values)
            if "ipolicy" in self.changes:
                cluster["ipolicy"] = self._new_ipolicy(cluster.get("ipolicy") or {})
            for key in ("beparams", "nicparams", "ndparams"):
                if key in self.changes:
                    cluster[key] = params.merge_overrides(cluster.get(key) or {},
                                                          self.changes[key])
            if "diskparams" in self.changes:
                cluster["diskparams"] = params.merge_diskparams(cluster.get("diskparams") or {},
                                                                self.changes["diskparams"])
            for key in ("candidate_pool_size", "enabled_hypervisors", "enabled_disk_templates",
                        "default_iallocator", "mac_prefix", "maintain_node_health"):
                if op[key] is not None:
                    cluster[key] = op[key]
            for key, field in (("vg_name", "volume_group_name"),
                               ("drbd_helper", "drbd_usermode_helper"),
                               ("reserved_lvs", "reserved_lvs")):
                if op[key] is not None:
                    cluster[field] = op[key]
            if op["osparams"]:
                for os_name, values in op["osparams"].items():
                    cluster["osparams"][os_name] = params.merge_overrides(
                        cluster["osparams"].get(os_name, {}), values)
        if params.DT_DRBD8 in self.changes.get("diskparams", {}):
            self.log("WARNING: Changing DRBD parameters only affects devices assembled from now"
                     " on; existing instances get them when their disks are next activated"
                     " (shutdown and start, not reboot) or their secondary is replaced")
        self.cfg.modify_cluster(change)
        if op["candidate_pool_size"] is not None:
            from gnt.lu.node import promote_pool

            promote_pool(self)
        return None

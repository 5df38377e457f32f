"""Detailed instance data (``gnt-instance info``) and OS diagnosis (``gnt-os``)."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE
from gnt.lu.base import LogicalUnit, register
from gnt.lu.instance_nics import network_name as _network_name
from gnt.nodes import checks, live
from gnt.nodes.nodevars import console_log
from gnt.nodes.rpc import NodeDown
from gnt.opcodes import params


@register
class LUInstanceQueryData(LogicalUnit):
    OP_ID = "OP_INSTANCE_QUERY_DATA"
    SHARED_LEVELS = frozenset({LEVEL_INSTANCE, LEVEL_NODE})

    def expand_names(self) -> None:
        if self.op["instances"]:
            self.wanted = [self.cfg.lookup("instances", n) for n in self.op["instances"]]
        else:
            self.wanted = sorted(self.cfg.all("instances"), key=lambda i: i["name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        if not self.op["use_locking"]:
            return {}
        return {LEVEL_INSTANCE: [str(i["uuid"]) for i in self.wanted] or ALL}

    def exec(self) -> Any:
        cluster = self.cfg.cluster()
        domains: dict[str, Any] = {}
        if not self.op["static"]:
            domains = live.domains_by_node(self.cfg, {i["primary_node"] for i in self.wanted})
        result = {}
        for inst in self.wanted:
            inst = self.cfg.get("instances", inst["uuid"])
            node = self.cfg.get("nodes", inst["primary_node"])
            node_doms = domains.get(node["uuid"])
            dom = (node_doms or {}).get(inst["name"])
            running = bool(dom and dom["state"] in ("running", "paused", "blocked"))
            run_state = None if self.op["static"] or node_doms is None else (
                "up" if running else "down")
            result[inst["name"]] = {
                "name": inst["name"], "uuid": inst["uuid"],
                "config_state": inst["admin_state"], "run_state": run_state,
                "pnode": node["name"],
                "snodes": [self.cfg.get("nodes", uuid)["name"]
                           for uuid in self.cfg.instance_secondaries(inst)],
                "os": inst["os"],
                "hypervisor": inst["hypervisor"], "hvparams": inst["hvparams"],
                "hv_actual": params.filled_hvparams(cluster, inst),
                "beparams": inst["beparams"],
                "be_actual": params.filled_beparams(cluster, inst),
                "osparams": inst["osparams"], "os_actual": inst["osparams"],
                # Ganeti's names of the instance's own parameters (move-instance reads them)
                "hv_instance": inst["hvparams"], "be_instance": inst["beparams"],
                "os_instance": inst["osparams"],
                "disk_template": inst["disk_template"],
                "disks": [{"iv_name": d["iv_name"], "size": d["size"], "mode": d["mode"],
                           "dev_type": d["dev_type"], "logical_id": d["logical_id"],
                           "uuid": d["uuid"]} for d in self.cfg.instance_disks(inst)],
                "nics": [{"mac": n["mac"], "ip": n.get("ip"),
                          **params.filled_nicparams(cluster, n),
                          **({"network": _network_name(self.cfg, n["network"])}
                             if n.get("network") else {}),
                          **({"name": n["name"]} if n.get("name") else {}),
                          "uuid": n.get("uuid")} for n in inst["nics"]],
                "tags": inst["tags"], "ctime": inst["ctime"], "mtime": inst["mtime"],
                "serial_no": inst["serial_no"], "console_log": console_log(inst["name"]),
                "oper_ram": dom["memory_mib"] if running and dom else None,
                "oper_vcpus": dom["vcpus"] if running and dom else None,
                "network_port": inst.get("network_port"),
            }
        return result


@register
class LUOsDiagnose(LogicalUnit):
    """Every OS definition on every online vm_capable node, with its validity."""

    OP_ID = "OP_OS_DIAGNOSE"

    def exec(self) -> Any:
        result: list[dict[str, Any]] = []
        answered: list[str] = []
        for node in sorted(self.cfg.all("nodes"), key=lambda n: n["name"]):
            if node["offline"] or not node["vm_capable"]:
                continue
            try:
                found = checks.os_diagnose(self.cfg, node)
            except NodeDown as err:
                self.log(f"Node {node['name']} did not answer the OS query: {err}")
                continue
            answered.append(node["name"])
            for osdef in found:
                result.append({"node": node["name"], **osdef})
        # An OS missing on an answering node is "not found" there, as Ganeti reports it.
        for os_name in sorted({entry["name"] for entry in result}):
            have = {entry["node"] for entry in result if entry["name"] == os_name}
            for node_name in answered:
                if node_name not in have:
                    result.append({"node": node_name, "name": os_name, "valid": False,
                                   "not_found": True, "error": "OS not found", "path": None,
                                   "api_versions": [], "variants": [], "parameters": []})
        return result


EXT_DIAGNOSE_FIELDS = ("name", "node_status", "nodegroup_status", "parameters")


@register
class LUExtStorageDiagnose(LogicalUnit):
    """Every ExtStorage provider on the online vm_capable nodes (as Ganeti's
    OpExtStorageDiagnose): per node ``[[path, valid, error, parameters]]`` (empty where it is
    missing), per node group whether it is valid on all of the group's answering nodes."""

    OP_ID = "OP_EXT_STORAGE_DIAGNOSE"

    def check_arguments(self) -> None:
        fields = self.op["output_fields"] or list(EXT_DIAGNOSE_FIELDS)
        unknown = [f for f in fields if f not in EXT_DIAGNOSE_FIELDS]
        if unknown:
            raise OpPrereqError(f"Unknown output fields selected: {', '.join(unknown)}",
                                ECODE_INVAL)
        self.fields = fields

    def exec(self) -> Any:
        from gnt.nodes import nodevars, rpc

        search_path = nodevars.ext_search_path(self.cfg)
        per_node: dict[str, dict[str, dict[str, Any]]] = {}
        groups: dict[str, list[str]] = {}
        for node in sorted(self.cfg.all("nodes"), key=lambda n: n["name"]):
            if node["offline"] or not node["vm_capable"]:
                continue
            try:
                found = rpc.ext_diagnose(self.cfg, node, search_path)
            except NodeDown as err:
                self.log(f"Node {node['name']} did not answer the ExtStorage query: {err}")
                continue
            group = self.cfg.data["nodegroups"].get(node.get("group", ""), {})
            groups.setdefault(str(group.get("name", "")), []).append(node["name"])
            per_node[node["name"]] = {p["name"]: p for p in found}
        rows = []
        names = sorted({name for found in per_node.values() for name in found})
        for name in names:
            if self.op["names"] and name not in self.op["names"]:
                continue
            node_status = {node: ([[p["path"], p["valid"], p["error"], p["parameters"]]]
                                  if (p := found.get(name)) else [])
                           for node, found in per_node.items()}
            group_status = {group: all(per_node[n].get(name, {}).get("valid") for n in members)
                            for group, members in groups.items()}
            parameters: list[Any] = next((p["parameters"] for found in per_node.values()
                                          if (p := found.get(name)) and p["valid"]), [])
            values = {"name": name, "node_status": node_status,
                      "nodegroup_status": group_status, "parameters": parameters}
            rows.append([values[field] for field in self.fields])
        return rows

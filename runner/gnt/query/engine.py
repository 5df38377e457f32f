"""Field-based queries (``gnt-instance list``, ``gnt-node list``, ``gnt-job list``).

Config fields are answered from the in-memory config; live fields (``oper_*``, ``status``,
``m*``/``d*`` of nodes) from the nodes' hypervisors directly, and only when asked for.
"""

from __future__ import annotations

from typing import Any

from gnt.config import objects
from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.nodes import live, rpc
from gnt.nodes.nodevars import console_log, libvirt_uri, node_ndparams
from gnt.opcodes import params
from gnt.query import export, filterrule, group, job, lock, network
from gnt.query.field import Field


class _InstanceRow:
    """One instance with what its fields need (live data filled in lazily)."""

    def __init__(self, store: ConfigStore, inst: dict[str, Any],
                 domains: dict[str, dict[str, dict[str, Any]] | None]) -> None:
        self.store, self.inst = store, inst
        self.node = store.get("nodes", inst["primary_node"])
        self.node_domains = domains.get(inst["primary_node"])
        self.cluster = store.cluster()

    @property
    def dom(self) -> dict[str, Any] | None:
        if not self.node_domains:
            return None
        return self.node_domains.get(self.inst["name"])

    def running(self) -> bool | None:
        if self.node_domains is None:
            return None
        return self.dom is not None and self.dom["state"] in ("running", "paused", "blocked")

    def disks(self) -> list[dict[str, Any]]:
        return self.store.instance_disks(self.inst)

    def be(self) -> dict[str, Any]:
        return params.filled_beparams(self.cluster, self.inst)

    def hv(self) -> dict[str, Any]:
        return params.filled_hvparams(self.cluster, self.inst)

    def nics(self) -> list[dict[str, Any]]:
        networks = self.store.data.get("networks", {})
        return [{**params.filled_nicparams(self.cluster, nic), "mac": nic["mac"],
                 "ip": nic.get("ip"), "network": nic.get("network"),
                 "network_name": (networks.get(nic["network"]) or {}).get("name")
                 if nic.get("network") else None} for nic in self.inst["nics"]]


def _oper_ram(row: _InstanceRow) -> int | None:
    dom = row.dom if row.running() else None
    return int(dom["memory_mib"]) if dom else None


def _console(row: _InstanceRow) -> dict[str, Any] | None:
    return {"log": console_log(row.inst["name"]), "uri": libvirt_uri(row.node),
            "name": row.inst["name"], "node": row.node["name"]}


INSTANCE_FIELDS: list[Field] = [
    Field("name", "Instance", "text", lambda r: r.inst["name"]),
    Field("uuid", "UUID", "text", lambda r: r.inst["uuid"]),
    Field("os", "OS", "text", lambda r: r.inst["os"]),
    Field("hypervisor", "Hypervisor", "text", lambda r: r.inst["hypervisor"]),
    Field("pnode", "Primary_node", "text", lambda r: r.node["name"]),
    Field("snodes", "Secondary_Nodes", "list",
          lambda r: [r.store.get("nodes", uuid)["name"]
                     for uuid in r.store.instance_secondaries(r.inst)]),
    Field("admin_state", "InstanceState", "text", lambda r: r.inst["admin_state"]),
    Field("admin_up", "Autostart", "bool", lambda r: r.inst["admin_state"] == "up"),
    Field("disks_active", "DisksActive", "bool", lambda r: objects.disks_active(r.inst),
          doc="Desired state of the instance disks"),
    Field("disk_template", "Disk_template", "text", lambda r: r.inst["disk_template"]),
    Field("status", "Status", "text",
          lambda r: live.instance_status(r.inst, r.node, r.node_domains), live=True),
    Field("oper_state", "Running", "bool", lambda r: r.running(), live=True),
    Field("oper_ram", "Memory", "unit", _oper_ram, live=True),
    Field("oper_vcpus", "VCPUs", "number",
          lambda r: r.dom["vcpus"] if r.running() and r.dom else None, live=True),
    Field("console", "Console", "other", _console),
    Field("be/maxmem", "ConfigMaxMem", "unit", lambda r: r.be()["maxmem"]),
    Field("be/minmem", "ConfigMinMem", "unit", lambda r: r.be()["minmem"]),
    Field("be/memory", "ConfigMaxMem", "unit", lambda r: r.be()["maxmem"]),
    Field("be/vcpus", "ConfigVCPUs", "number", lambda r: r.be()["vcpus"]),
    Field("be/auto_balance", "Auto_balance", "bool", lambda r: r.be()["auto_balance"]),
    Field("beparams", "BackendParameters", "other", lambda r: r.be()),
    Field("hvparams", "HypervisorParameters", "other", lambda r: r.hv()),
    Field("osparams", "OpSysParameters", "other", lambda r: r.inst["osparams"]),
    Field("custom_beparams", "CustomBackendParameters", "other", lambda r: r.inst["beparams"]),
    Field("custom_hvparams", "CustomHypervisorParameters", "other",
          lambda r: r.inst["hvparams"]),
    Field("tags", "Tags", "list", lambda r: list(r.inst["tags"])),
    Field("ctime", "CTime", "timestamp", lambda r: r.inst["ctime"]),
    Field("mtime", "MTime", "timestamp", lambda r: r.inst["mtime"]),
    Field("serial_no", "SerialNo", "number", lambda r: r.inst["serial_no"]),
    Field("disk.count", "Disks", "number", lambda r: len(r.inst["disks"])),
    Field("disk.sizes", "Disk_sizes", "list", lambda r: [d["size"] for d in r.disks()]),
    Field("disk_usage", "DiskUsage", "unit", lambda r: sum(d["size"] for d in r.disks())),
    Field("nic.count", "NICs", "number", lambda r: len(r.inst["nics"])),
    Field("nic.macs", "NIC_MACs", "list", lambda r: [n["mac"] for n in r.nics()]),
    Field("nic.ips", "NIC_IPs", "list", lambda r: [n["ip"] for n in r.nics()]),
    Field("nic.modes", "NIC_modes", "list", lambda r: [n["mode"] for n in r.nics()]),
    Field("nic.links", "NIC_links", "list", lambda r: [n["link"] for n in r.nics()]),
    Field("network_port", "Network_port", "number", lambda r: r.inst.get("network_port")),
    # Ganeti's remaining RAPI bulk fields (no networks or spindles here: null/empty)
    Field("nic.uuids", "NIC_UUIDs", "list",
          lambda r: [n.get("uuid") for n in r.inst["nics"]]),
    Field("nic.names", "NIC_Names", "list",
          lambda r: [n.get("name") for n in r.inst["nics"]]),
    Field("nic.networks", "NIC_networks", "list", lambda r: [n["network"] for n in r.nics()]),
    Field("nic.networks.names", "NIC_networks_names", "list",
          lambda r: [n["network_name"] for n in r.nics()]),
    Field("nic.bridges", "NIC_bridges", "list",
          lambda r: [n["link"] if n["mode"] == "bridged" else None for n in r.nics()]),
    Field("disk.uuids", "Disk_UUIDs", "list", lambda r: [d["uuid"] for d in r.disks()]),
    Field("disk.names", "Disk_names", "list", lambda r: [d.get("name") for d in r.disks()]),
    Field("disk.spindles", "Disk_spindles", "list", lambda r: [None for _d in r.disks()]),
    Field("custom_nicparams", "CustomNicParameters", "list",
          lambda r: [dict(n.get("nicparams") or {}) for n in r.inst["nics"]]),
    Field("custom_osparams", "CustomOpSysParameters", "other",
          lambda r: dict(r.inst["osparams"])),
]


def _indexed_instance_field(name: str) -> Field | None:
    """``disk.size/N``, ``nic.mac/N``, ``hv/NAME``, ``be/NAME`` fields."""
    if name.startswith("hv/") and name[3:] in params.HVPARAMS_KVM:
        key = name[3:]
        return Field(name, name, "other", lambda r: r.hv().get(key))
    if name.startswith("be/") and name[3:] in params.BEPARAMS:
        key = name[3:]
        return Field(name, name, "other", lambda r: r.be().get(key))
    for prefix, getter, kind in (
        ("disk.size/", lambda r, i: r.disks()[i]["size"], "unit"),
        ("disk.mode/", lambda r, i: r.disks()[i]["mode"], "text"),
        ("nic.mac/", lambda r, i: r.nics()[i]["mac"], "text"),
        ("nic.ip/", lambda r, i: r.nics()[i]["ip"], "text"),
        ("nic.mode/", lambda r, i: r.nics()[i]["mode"], "text"),
        ("nic.link/", lambda r, i: r.nics()[i]["link"], "text"),
        ("nic.network/", lambda r, i: r.nics()[i]["network"], "text"),
        ("nic.network.name/", lambda r, i: r.nics()[i]["network_name"], "text"),
    ):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            index = int(name[len(prefix):])

            def get(row: Any, _g: Any = getter, _i: int = index) -> Any:
                try:
                    return _g(row, _i)
                except IndexError:
                    return None
            return Field(name, name.replace("/", "_").title(), kind, get)
    return None


class _NodeRow:
    def __init__(self, store: ConfigStore, node: dict[str, Any],
                 info: dict[str, Any] | None) -> None:
        self.store, self.node, self.info = store, node, info
        self.cluster = store.cluster()

    def instances(self) -> list[dict[str, Any]]:
        return self.store.node_instances(self.node["uuid"])

    def live(self, key: str) -> Any:
        return None if self.info is None else self.info.get(key)

    def role(self) -> str:
        if self.node["uuid"] == self.cluster["master_node"]:
            return "M"
        if self.node["master_candidate"]:
            return "C"
        if self.node["drained"]:
            return "D"
        if self.node["offline"]:
            return "O"
        return "R"


NODE_FIELDS: list[Field] = [
    Field("name", "Node", "text", lambda r: r.node["name"]),
    Field("uuid", "UUID", "text", lambda r: r.node["uuid"]),
    Field("pip", "PrimaryIP", "text", lambda r: r.node["primary_ip"]),
    Field("sip", "SecondaryIP", "text", lambda r: r.node["secondary_ip"]),
    Field("master", "IsMaster", "bool",
          lambda r: r.node["uuid"] == r.cluster["master_node"]),
    Field("master_candidate", "MasterC", "bool", lambda r: r.node["master_candidate"]),
    Field("drained", "Drained", "bool", lambda r: r.node["drained"]),
    Field("offline", "Offline", "bool", lambda r: r.node["offline"]),
    Field("master_capable", "MasterCapable", "bool", lambda r: r.node["master_capable"]),
    Field("vm_capable", "VMCapable", "bool", lambda r: r.node["vm_capable"]),
    Field("role", "Role", "text", lambda r: r.role()),
    Field("group", "Group", "text",
          lambda r: r.store.get("nodegroups", r.node["group"])["name"]),
    Field("group.uuid", "GroupUUID", "text", lambda r: r.node["group"]),
    Field("ndparams", "NodeParameters", "other",
          lambda r: node_ndparams(r.store, r.node)),
    Field("tags", "Tags", "list", lambda r: list(r.node["tags"])),
    Field("ctime", "CTime", "timestamp", lambda r: r.node["ctime"]),
    Field("mtime", "MTime", "timestamp", lambda r: r.node["mtime"]),
    Field("serial_no", "SerialNo", "number", lambda r: r.node["serial_no"]),
    Field("pinst_cnt", "Pinst", "number", lambda r: len(r.instances())),
    Field("sinst_cnt", "Sinst", "number",
          lambda r: len(r.store.node_secondary_instances(r.node["uuid"]))),
    Field("pinst_list", "PriInstances", "list", lambda r: sorted(i["name"] for i in r.instances())),
    Field("sinst_list", "SecInstances", "list",
          lambda r: sorted(i["name"] for i in r.store.node_secondary_instances(r.node["uuid"]))),
    Field("mtotal", "MTotal", "unit", lambda r: r.live("mtotal"), live=True),
    Field("mnode", "MNode", "unit", lambda r: r.live("mnode"), live=True),
    Field("mfree", "MFree", "unit", lambda r: r.live("mfree"), live=True),
    Field("dtotal", "DTotal", "unit", lambda r: r.live("dtotal"), live=True),
    Field("dfree", "DFree", "unit", lambda r: r.live("dfree"), live=True),
    Field("ctotal", "CTotal", "number", lambda r: r.live("ctotal"), live=True),
    Field("cnodes", "CNodes", "number", lambda r: r.live("cnodes"), live=True),
    Field("csockets", "CSockets", "number", lambda r: r.live("csockets"), live=True),
    Field("hv_version", "HypervisorVersion", "text", lambda r: r.live("hv_version"), live=True),
    # Ganeti's spindle and NUMA fields: no spindle accounting or NUMA data here (null)
    Field("sptotal", "SpTotal", "number", lambda r: None),
    Field("spfree", "SpFree", "number", lambda r: None),
    Field("cnos", "CNOs", "number", lambda r: None),
]

FIELDS = {"instance": INSTANCE_FIELDS, "node": NODE_FIELDS, "group": group.group_fields(),
          "job": job.job_fields(), "export": export.export_fields(), "lock": lock.lock_fields(),
          "filter": filterrule.filter_fields(),
          "network": network.network_fields()}
# Kinds whose rows the master daemon passes in (its job queue, its lock manager).
DAEMON_ROWS = ("job", "lock")


def field_list(what: str) -> list[dict[str, Any]]:
    """The fields of a resource as ``{"name", "title", "kind", "doc"}`` dicts."""
    if what not in FIELDS:
        raise OpPrereqError(f"Unknown query resource '{what}'", ECODE_INVAL)
    return [{"name": f.name, "title": f.title, "kind": f.kind, "doc": f.doc,
             **({"unavail": True} if f.unavail else {})} for f in FIELDS[what]]


def _resolve_fields(what: str, names: list[str]) -> list[Field]:
    table = {f.name: f for f in FIELDS[what]}
    result = []
    for name in names:
        fld = table.get(name) or (_indexed_instance_field(name) if what == "instance" else None)
        if fld is None:
            raise OpPrereqError(f"Unknown {what} field '{name}'", ECODE_INVAL)
        result.append(fld)
    return result


def _select(store: ConfigStore, kind: str, names: list[str]) -> list[dict[str, Any]]:
    if not names:
        return sorted(store.all(kind), key=lambda obj: obj["name"])
    selected, unknown = [], []
    for name in names:
        obj = store.find(kind, name)
        if obj is None:
            unknown.append(name)
        else:
            selected.append(obj)
    if unknown:
        label = {"instances": "instance", "nodes": "node"}[kind]
        raise OpPrereqError(f"Unknown {label}(s): {', '.join(unknown)}", ECODE_NOENT)
    return selected


def query(store: ConfigStore, what: str, fields: list[str], names: list[str],
          use_live: bool = True, rows: list[Any] | None = None) -> dict[str, Any]:
    """Rows for ``what`` with ``fields``; live data only if a field needs it. The rows of
    :data:`DAEMON_ROWS` kinds come from the caller (``rows``)."""
    if what not in FIELDS:
        raise OpPrereqError(f"Unknown query resource '{what}'", ECODE_INVAL)
    flds = _resolve_fields(what, fields)
    need_live = use_live and any(f.live for f in flds)
    if what in DAEMON_ROWS:
        if rows is None:
            raise OpPrereqError(f"Query of '{what}' needs the master daemon's rows",
                                ECODE_INVAL)
    elif what == "filter":
        rows = filterrule.rows(store, names)
    elif what == "export":
        rows = export.rows(store, names) if use_live else [
            (node["name"], None) for node in export.select_nodes(store, names)]
    elif what == "instance":
        instances = _select(store, "instances", names)
        domains: dict[str, Any] = {}
        if need_live:
            domains = live.domains_by_node(store, {i["primary_node"] for i in instances})
        rows = [_InstanceRow(store, inst, domains) for inst in instances]
    elif what == "group":
        rows = group.rows(store, names)
    elif what == "network":
        rows = network.rows(store, names)
    else:
        nodes = _select(store, "nodes", names)
        infos = rpc.live_info_many(store, nodes) if need_live else {}
        rows = [_NodeRow(store, node, infos.get(node["uuid"])) for node in nodes]
    return {"fields": [{"name": f.name, "title": f.title, "kind": f.kind} for f in flds],
            "data": [[f.getter(row) for f in flds] for row in rows or []]}

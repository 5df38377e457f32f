"""OP_INSTANCE_CREATE in import mode (``gnt-backup import``): a new instance from an export.

The export is found first (``--src-node``/``--src-dir``, or by name, or the newest one in
the cluster), its ``config.ini`` read from the node holding it; everything the command line
leaves out (disk template, disks, NICs, backend/hypervisor/OS parameters, tags, the OS)
comes from it, as Ganeti does. Then it is a normal instance creation whose node-side step
streams each dump from the export's node through the decompressor into the OS import script
(raw onto the disk without an OS) and runs the OS rename script when the name changed.
"""

from __future__ import annotations

import os
from typing import Any

from gnt.config import exportcfg
from gnt.core import settings
from gnt.core.errors import ECODE_ENVIRON, ECODE_INVAL, ECODE_NOENT, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_NODE
from gnt.lu.backup import export_path
from gnt.lu.base import register
from gnt.lu.instance_create import LUInstanceCreate
from gnt.nodes import rpc
from gnt.nodes.executor import Play, RunResult
from gnt.nodes.nodevars import transfer_peer
from gnt.opcodes import params

IMPORT = "import"
# Values of a NIC's mac for import: a new address, or the one saved in the export.
MAC_GENERATE = "generate"
MAC_AUTO = "auto"


@register
class LUInstanceCreateOrImport(LUInstanceCreate):
    """OP_INSTANCE_CREATE: ``mode="create"`` as in :class:`LUInstanceCreate`, ``"import"``
    from an export."""

    def check_arguments(self) -> None:
        if self.op["mode"] != IMPORT:
            super().check_arguments()
            return
        if self.op["src_path"] is not None and not self.op["src_path"].strip():
            raise OpPrereqError("Empty source directory (--src-dir)", ECODE_INVAL)
        if self.op["src_path"] and os.path.isabs(self.op["src_path"]) \
                and not self.op["src_node"]:
            raise OpPrereqError(f"The source directory {self.op['src_path']} is a path: give"
                                " the node holding it too (--src-node)", ECODE_INVAL)
        # the export's name in the export directory (--src-dir confined to it)
        self.src_name = confined_export_dir(self.op["src_path"]) if self.op["src_path"] else None

    def expand_names(self) -> None:
        if self.op["mode"] != IMPORT:
            super().expand_names()
            return
        self.src_node, self.src_dir = self._locate_export()
        self.export = self._read_export()
        self.op = merged_op(self.op, self.export, self.cfg.cluster(), self.log)
        super().check_arguments()
        self._check_disk_sizes()
        super().expand_names()

    def declare_locks(self) -> dict[str, list[str] | str]:
        locks = super().declare_locks()
        nodes = locks[LEVEL_NODE]
        if self.op["mode"] == IMPORT and nodes != ALL and self.src_node["uuid"] not in nodes:
            locks[LEVEL_NODE] = [*nodes, self.src_node["uuid"]]
        return locks

    def nodes_needed(self, pnode: dict[str, Any]) -> list[str]:
        needed = super().nodes_needed(pnode)
        if self.op["mode"] == IMPORT and self.src_node["uuid"] not in needed:
            needed.append(str(self.src_node["uuid"]))
        return needed

    def check_prereq(self) -> None:
        if self.op["mode"] == IMPORT:
            self.src_node = self.cfg.get("nodes", self.src_node["uuid"])
            if self.src_node["offline"]:
                raise OpPrereqError(f"Source node {self.src_node['name']} is offline",
                                    ECODE_ENVIRON)
            self._resolve_auto_macs()
        super().check_prereq()

    def node_plays(self, node: dict[str, Any], host: dict[str, Any]) -> list[Play]:
        if self.op["mode"] != IMPORT:
            return super().node_plays(node, host)
        dumps = []
        for index, disk in enumerate(self.import_sources):
            if disk is not None:
                dumps.append({"index": index, "dump": f"{self.src_dir}/{disk['dump']}"})
        if not dumps:
            self.log("WARNING: the export has no disk data to import; the disks stay empty")
            return super().node_plays(node, host)
        self.log(f"* importing {len(dumps)} disk(s) from {self.src_node['name']}:"
                 f"{self.src_dir} (compression {self.export.compression})")
        gnt_import = {"disks": dumps, "compression": self.export.compression,
                      "source": transfer_peer(self.cfg, self.src_node, node),
                      "use_os": bool(self.op["os_type"]), "old_name": self.export.name}
        # the add path's volumes (drbd: both nodes, the primary's device Primary, resync
        # waited for per --wait-for-sync); the image goes onto the primary's device, so a
        # drbd secondary gets it by replication
        return [*super().node_plays(node, host),
                Play("instance_import", {node["name"]: {**host, "gnt_import": gnt_import}},
                     title="import the disks")]

    def report_node_plays(self, node: dict[str, Any], result: RunResult) -> None:
        if self.op["mode"] != IMPORT:
            return
        host = result.hosts.get(node["name"])
        imported = host.facts.get("gnt_import_result") if host else None
        for entry in (imported or {}).get("disks") or []:
            size = entry.get("bytes")
            amount = f"{int(size) / 1048576:.1f} MiB written, " if size is not None else ""
            self.log(f"  disk {entry.get('index')}: imported ({entry.get('method')},"
                     f" {amount}{entry.get('duration_s')} s)")

    # -- finding and reading the export ------------------------------------------------------
    def _locate_export(self) -> tuple[dict[str, Any], str]:
        """(node, directory) of the export to import."""
        op = self.op
        name = op["instance_name"]
        if op["src_node"]:
            node = self.cfg.lookup("nodes", op["src_node"])
            if self.src_name:
                return node, export_path(self.src_name)
            return node, export_path(self._export_name_on([node], name))
        online = [n for n in self.cfg.all("nodes") if not n["offline"]]
        exports = self._exports_on(online)
        wanted = self.src_name or name
        holders = [n for n in online if wanted in exports.get(n["uuid"], {})]
        if holders:
            return holders[0], export_path(wanted)
        if self.src_name:
            raise OpPrereqError(f"No export named '{wanted}' on any node (gnt-backup list"
                                " shows them)", ECODE_NOENT)
        newest = _newest(online, exports)
        if newest is None:
            raise OpPrereqError("No export found in the cluster (gnt-backup list shows them;"
                                " give --src-node and --src-dir)", ECODE_NOENT)
        node, export = newest
        self.log(f"No export named {name}: using the newest export in the cluster,"
                 f" {export} on {node['name']}")
        return node, export_path(export)

    def _exports_on(self, nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        answers = rpc.exports_many(self.cfg, nodes)
        result: dict[str, dict[str, Any]] = {}
        for node in nodes:
            answer = answers.get(node["uuid"])
            if isinstance(answer, dict):
                result[node["uuid"]] = {k: v for k, v in answer.items() if v.get("complete")}
            else:
                self.log(f"WARNING: node {node['name']} did not list its exports: {answer}")
        return result

    def _export_name_on(self, nodes: list[dict[str, Any]], name: str) -> str:
        exports = self._exports_on(nodes)
        listed = exports.get(nodes[0]["uuid"], {})
        if name in listed:
            return name
        newest = _newest(nodes, exports)
        if newest is None:
            raise OpPrereqError(f"No export on node {nodes[0]['name']} (gnt-backup list"
                                " shows them)", ECODE_NOENT)
        self.log(f"No export named {name} on {nodes[0]['name']}: using its newest export,"
                 f" {newest[1]}")
        return newest[1]

    def _read_export(self) -> exportcfg.ExportInfo:
        where = f"{self.src_node['name']}:{self.src_dir}"
        try:
            found = rpc.export_info(self.cfg, self.src_node, self.src_dir)
        except rpc.NodeDown as err:
            raise OpPrereqError(f"Cannot read the export {where}: {err}",
                                ECODE_ENVIRON) from err
        if not found.get("exists"):
            raise OpPrereqError(f"No export directory {where}", ECODE_NOENT)
        if found.get("config") is None:
            raise OpPrereqError(f"{where} is not an export: it has no {exportcfg.CONFIG_FILE}",
                                ECODE_NOENT)
        info = exportcfg.parse(found["config"], where=f"{where}/{exportcfg.CONFIG_FILE}")
        files = found.get("files") or {}
        for disk in info.disks:
            dump = disk.get("dump")
            if dump is not None and dump not in files:
                raise OpPrereqError(f"The export {where} is incomplete: dump file {dump} of"
                                    f" disk {disk['index']} is missing", ECODE_NOENT)
            disk["dump_bytes"] = files.get(dump) if dump else None
        self.log(f"Importing from the export of {info.name} on {where} (made"
                 f" {_when(info.timestamp)}, {len(info.disks)} disk(s), OS '{info.os}')")
        return info

    # -- checks after the merge --------------------------------------------------------------
    def _check_disk_sizes(self) -> None:
        """Each disk holds its export's data: not smaller than the exported disk, and (for an
        uncompressed dump) not smaller than the dump file."""
        exported = self.export.disks
        self.import_sources: list[dict[str, Any] | None] = []
        for index, disk in enumerate(self.disks):
            source = exported[index] if index < len(exported) else None
            if source is not None and source.get("dump") is None:
                source = None
            self.import_sources.append(source)
            if source is None:
                continue
            if disk["size"] < int(source["size_mib"]):
                raise OpPrereqError(f"Disk {index} ({disk['size']} MiB) is smaller than the"
                                    f" exported disk {source['index']} ({source['size_mib']}"
                                    " MiB) whose data it should hold", ECODE_INVAL)
            dump_bytes = source.get("dump_bytes")
            if self.export.compression == "none" and dump_bytes is not None \
                    and int(dump_bytes) > disk["size"] * 1048576:
                raise OpPrereqError(f"Disk {index} ({disk['size']} MiB) is smaller than its"
                                    f" dump {source['dump']} ({dump_bytes} bytes)", ECODE_INVAL)
        extra = len(exported) - len(self.disks)
        if extra > 0 and self.op["disk_template"] != params.DT_DISKLESS:
            self.log(f"WARNING: {extra} exported disk(s) beyond the {len(self.disks)} given are"
                     " not imported")

    def _resolve_auto_macs(self) -> None:
        """``mac=auto`` on import means the address saved in the export for that NIC."""
        for index, nic in enumerate(self.nics):
            if nic["mac"] != MAC_AUTO:
                continue
            saved = self.export.nics[index]["mac"] if index < len(self.export.nics) else None
            nic["mac"] = saved or MAC_GENERATE
        used = self.cfg.all_macs()
        for index, nic in enumerate(self.nics):
            if nic["mac"] in used:
                raise OpPrereqError(f"MAC address {nic['mac']} of NIC {index} (from the export)"
                                    " is already in use in the cluster; import with"
                                    f" --net {index}:mac=generate for a new one", ECODE_INVAL)


def merged_op(op: dict[str, Any], info: exportcfg.ExportInfo, cluster: dict[str, Any],
              log: Any) -> dict[str, Any]:
    """The opcode with everything it leaves out taken from the export ``info``.

    With ``identify_defaults``, parameters equal to the cluster's current defaults are left
    unset so the instance follows later changes of the defaults.
    """
    merged = dict(op)
    template = op["disk_template"] or info.disk_template
    merged["disk_template"] = template
    if not op["disks"] and template != params.DT_DISKLESS:
        merged["disks"] = [{"size": int(d["size_mib"]), "mode": d.get("mode") or params.DISK_MODE_DEFAULT}
                           for d in info.disks]
    elif template == params.DT_DISKLESS:
        merged["disks"] = []
    if op["nics"] is None:
        merged["nics"] = [_export_nic(nic) for nic in info.nics]
    merged["os_type"] = op["os_type"] or info.os or None
    merged["no_install"] = True
    hypervisor = op["hypervisor"] or info.hypervisor or params.HT_KVM
    merged["hypervisor"] = hypervisor
    known_hv = params.HVPARAMS.get(hypervisor, {})
    hv = _known(info.hvparams, known_hv, "hypervisor", log)
    hv.update(op["hvparams"])
    be = _known(info.beparams, params.BEPARAMS, "backend", log)
    given_be = dict(op["beparams"])
    memory = given_be.pop(params.BE_MEMORY_ALIAS, None)
    if memory is not None:      # -B memory=X sets both bounds, over the export's
        given_be.setdefault("maxmem", memory)
        given_be.setdefault("minmem", memory)
    be.update(given_be)
    if op["identify_defaults"]:
        hv = _without_defaults(hv, params.filled_hvparams(cluster, {"hypervisor": hypervisor,
                                                                    "hvparams": {}}))
        be = _without_defaults(be, params.filled_beparams(cluster, {"beparams": {}}))
        default_nic = params.filled_nicparams(cluster, {})
        merged["nics"] = [{k: v for k, v in nic.items()
                           if k in ("mac", "ip", "name", "network") or default_nic.get(k) != v}
                          for nic in merged["nics"]]
    merged["hvparams"], merged["beparams"] = hv, be
    merged["osparams"] = {**info.osparams, **op["osparams"]}
    merged["tags"] = op["tags"] or list(info.tags)
    return merged


def _export_nic(nic: dict[str, Any]) -> dict[str, Any]:
    """An exported NIC as an opcode NIC (its saved MAC, IP and link parameters)."""
    result = {key: nic[key] for key in ("mac", "ip", "mode", "link", "vlan")
              if nic.get(key) not in (None, "")}
    result.setdefault("mac", MAC_GENERATE)
    return result


def _known(values: dict[str, Any], spec: dict[str, Any], what: str, log: Any
           ) -> dict[str, Any]:
    """The parameters this version knows; the others are named in the job log."""
    unknown = sorted(set(values) - set(spec))
    if unknown:
        log(f"Ignoring {what} parameter(s) of the export this version does not know:"
            f" {', '.join(unknown)}")
    return {key: value for key, value in values.items() if key in spec}


def _without_defaults(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if defaults.get(key) != value}


def _newest(nodes: list[dict[str, Any]], exports: dict[str, dict[str, Any]]
            ) -> tuple[dict[str, Any], str] | None:
    best: tuple[int, str, dict[str, Any]] | None = None
    for node in nodes:
        for name, info in exports.get(node["uuid"], {}).items():
            stamp = int(info.get("timestamp") or 0)
            if best is None or (stamp, name) > (best[0], best[1]):
                best = (stamp, name, node)
    return None if best is None else (best[2], best[1])


def _when(timestamp: int) -> str:
    import time

    if not timestamp:
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def confined_export_dir(src_dir: str) -> str:
    """The export name ``--src-dir`` names: a name in the export directory, or an absolute
    path to one; anything else (another directory, ``..``, a hidden in-progress export) is
    refused naming the value."""
    export_dir = os.path.normpath(str(settings.paths().export_dir))
    full = os.path.normpath(src_dir if os.path.isabs(src_dir)
                            else os.path.join(export_dir, src_dir))
    name = os.path.basename(full)
    if os.path.dirname(full) != export_dir or not name or name.startswith("."):
        raise OpPrereqError(f"The source directory '{src_dir}' is not an export: it must be an"
                            f" export name or a directory directly in {export_dir}",
                            ECODE_INVAL)
    return name

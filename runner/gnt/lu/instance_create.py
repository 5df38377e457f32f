"""OP_INSTANCE_CREATE: disks, OS install and first start of a new instance."""

from __future__ import annotations

import random
from typing import Any

from gnt.core import resolver
from gnt.core.errors import (
    ECODE_EXISTS,
    ECODE_INVAL,
    ECODE_NORES,
    ECODE_STATE,
    ECODE_TEMP_NORES,
    OpExecError,
    OpPrereqError,
)
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODE_RES, name_lock
from gnt.core.units import UnitError, parse_size_mib
from gnt.lu import (
    instance_drbd,
    instance_ext,
    instance_nics,
    instance_storage,
    names,
    placement,
    policy_checks,
)
from gnt.lu.base import LogicalUnit
from gnt.nodes import checks
from gnt.nodes.executor import Play, RunResult
from gnt.nodes.nodevars import disk_path, instance_spec, node_vars
from gnt.opcodes import params


def generate_mac(prefix: str, used: set[str]) -> str:
    """A MAC with the cluster prefix that no NIC in the cluster uses yet."""
    for _unused in range(1000):
        mac = prefix + "".join(f":{random.randint(0, 255):02x}" for _unused in range(3))
        if mac not in used:
            return mac
    raise OpExecError("Cannot generate a unique MAC address (prefix exhausted?)")


def eligible_nodes(cfg: Any) -> list[dict[str, Any]]:
    return [node for node in cfg.all("nodes")
            if node["vm_capable"] and not node["offline"] and not node["drained"]]


class LUInstanceCreate(LogicalUnit):
    """Create mode of OP_INSTANCE_CREATE; :mod:`.instance_import` registers the LU that
    adds import mode on top of it."""

    OP_ID = "OP_INSTANCE_CREATE"

    def check_arguments(self) -> None:
        op = self.op
        if not resolver.valid_hostname(op["instance_name"]):
            raise OpPrereqError(f"Invalid instance name '{op['instance_name']}'", ECODE_INVAL)
        op["instance_name"], self.check_ip = names.check_name(
            self, op["instance_name"], op["name_check"], op["ip_check"])
        self._check_template(op["disk_template"])
        self.disks = [self._checked_disk(index, disk) for index, disk in enumerate(op["disks"])]
        for index, disk in enumerate(op["disks"]):
            self.disks[index].update(instance_ext.ext_disk_params(index, disk, op["disk_template"]))
        if not op["no_install"] and not op["os_type"]:
            raise OpPrereqError("No OS given (-o OS) and --no-install not set", ECODE_INVAL)
        if op["file_storage_dir"]:
            raise OpPrereqError(f"--file-storage-dir {op['file_storage_dir']} is not supported"
                                " in this release: file disks go to the cluster's file storage"
                                " directory, in a directory named after the instance",
                                ECODE_INVAL)
        if op["file_driver"] not in (None, "loop"):
            raise OpPrereqError(f"File driver '{op['file_driver']}' is not supported: file disks"
                                " are raw files given to QEMU (driver 'loop')", ECODE_INVAL)
        self.hypervisor = op["hypervisor"] or params.HT_KVM
        self.hvparams = params.check_hvparams(self.hypervisor, op["hvparams"])
        self.beparams = params.check_beparams(op["beparams"])
        self.nics = [self._checked_nic(index, nic) for index, nic in
                     enumerate([{}] if op["nics"] is None else op["nics"])]
        self._check_storage(op["disk_template"])

    def _check_template(self, template: str | None) -> None:
        """The disk template: known, creatable, enabled, and disks given as it needs."""
        if template is None:
            raise OpPrereqError("No disk template given (-t TEMPLATE)", ECODE_INVAL)
        if template not in params.KNOWN_DISK_TEMPLATES:
            raise OpPrereqError(f"Unknown disk template '{template}'", ECODE_INVAL)
        if template not in params.DISK_TEMPLATES:
            raise OpPrereqError(f"Disk template '{template}' cannot be created on this"
                                " cluster version (supported: "
                                f"{', '.join(params.DISK_TEMPLATES)})", ECODE_INVAL)
        if template not in self.cfg.cluster()["enabled_disk_templates"]:
            raise OpPrereqError(f"Disk template '{template}' is not enabled in the cluster"
                                " (gnt-cluster modify --enabled-disk-templates)", ECODE_STATE)
        if template == params.DT_DISKLESS and self.op["disks"]:
            raise OpPrereqError("Diskless instances take no disks", ECODE_INVAL)
        if template != params.DT_DISKLESS and not self.op["disks"]:
            raise OpPrereqError(f"Disk template '{template}' needs at least one disk"
                                " (--disk 0:size=SIZE or -s SIZE)", ECODE_INVAL)

    @staticmethod
    def _checked_disk(index: int, disk: dict[str, Any]) -> dict[str, Any]:
        """Size (MiB; 0 for a disk to adopt, which has the LV's) and access mode of a disk."""
        adopting = bool(disk.get("adopt"))
        if "size" not in disk and not adopting:
            raise OpPrereqError(f"Missing size for disk {index}", ECODE_INVAL)
        try:
            size = parse_size_mib(disk["size"]) if "size" in disk else 0
        except UnitError as err:
            raise OpPrereqError(f"Invalid size for disk {index}: {err}", ECODE_INVAL) from err
        if size <= 0 and not adopting:
            raise OpPrereqError(f"Disk {index} size must be positive", ECODE_INVAL)
        mode = disk.get("mode", params.DISK_MODE_DEFAULT)
        if mode not in params.DISK_MODES:
            raise OpPrereqError(f"Invalid mode '{mode}' for disk {index}"
                                f" ({' or '.join(params.DISK_MODES)})", ECODE_INVAL)
        return {"size": size, "mode": mode}

    def _checked_nic(self, index: int, given: dict[str, Any]) -> dict[str, Any]:
        """A NIC's MAC (``auto``/``generate`` until check_prereq), IP and parameters."""
        nic = dict(given)
        mac = str(nic.pop("mac", None) or "auto")
        if mac.lower() in ("auto", "generate"):
            mac = mac.lower()
        ip = nic.pop("ip", None) or None
        if ip is not None and str(ip).lower() == "auto":
            if self.check_ip is None:
                raise OpPrereqError(f"NIC {index}: ip=auto takes the address the instance"
                                    " name resolves to: it needs the name check", ECODE_INVAL)
            ip = self.check_ip
        name = nic.pop("name", None)
        network = nic.pop("network", None)
        instance_nics.check_no_link_with_network({**nic, "network": network})
        if ip is not None and str(ip).lower() == instance_nics.IP_POOL \
                and instance_nics.is_none(network):
            raise OpPrereqError("if ip=pool, parameter network must be passed too",
                                ECODE_INVAL)
        ip = instance_nics.check_ip_syntax(ip, network, must_have_network=False)
        checked = {"mac": mac, "ip": ip, "nicparams": params.check_nicparams(nic),
                   "network": None if instance_nics.is_none(network) else network,
                   "name": None if instance_nics.is_none(name) else name}
        if mac not in ("auto", "generate") and not _valid_mac(mac):
            raise OpPrereqError(f"Invalid MAC address '{mac}' for NIC {index}", ECODE_INVAL)
        return checked

    def _check_storage(self, template: str) -> None:
        """The LVM parameters and adoption of plain/drbd disks, and drbd's two nodes."""
        op = self.op
        self.lvm_requests: list[instance_storage.DiskRequest] = []
        if template in instance_storage.LVM_TEMPLATES:
            self.lvm_requests = instance_storage.check_requests(
                template, op["disks"], [d["size"] for d in self.disks],
                [d["mode"] for d in self.disks], self.cfg.cluster(), op["iallocator"],
                op["mode"])
        elif any(disk.get("adopt") for disk in op["disks"]):
            raise OpPrereqError(f"Disk adoption is not supported for the '{template}' disk"
                                " template", ECODE_INVAL)
        # drbd: both nodes given (-n P:S), or both chosen by the allocator
        if template in instance_storage.MIRRORED_TEMPLATES and op["pnode"] \
                and not op["snode"]:
            raise OpPrereqError("The networked disk templates need a mirror node",
                                ECODE_INVAL)

    def expand_names(self) -> None:
        op = self.op
        # None: the allocator chooses, with every node locked (check_prereq).
        self.pnode: dict[str, Any] | None = None
        self.snode: dict[str, Any] | None = None
        if op["snode"] and op["disk_template"] in instance_storage.MIRRORED_TEMPLATES:
            self.snode = self.cfg.lookup("nodes", op["snode"])
        elif op["snode"]:
            self.log("WARNING: Secondary node will be ignored on non-mirrored disk template")
        if op["pnode"]:
            self.pnode = self.cfg.lookup("nodes", op["pnode"])
        else:
            nodes = eligible_nodes(self.cfg)
            if len(nodes) == 1 and not op["iallocator"] \
                    and op["disk_template"] not in instance_storage.MIRRORED_TEMPLATES:
                self.pnode = nodes[0]
                self.log(f"Selected node {self.pnode['name']} (the only eligible node)")
        # Opportunistic locking (Ganeti's): the allocator chooses among the nodes whose locks
        # are free; creation only (an import needs its source node as well).
        self.opportunistic = (bool(op["opportunistic_locking"]) and self.pnode is None
                              and op["mode"] == "create")
        self.locked_nodes: list[str] | None = None

    def declare_locks(self) -> dict[str, list[str] | str]:
        # The new name is reserved (no UUID exists yet); nodes by UUID, or all of them while
        # the allocator chooses (opportunistically: every node by UUID, those free taken).
        nodes: list[str] | str = self.nodes_needed(self.pnode) if self.pnode else ALL
        if self.pnode is None and self.opportunistic:
            nodes = sorted(str(node["uuid"]) for node in self.cfg.all("nodes"))
        return {LEVEL_INSTANCE: [name_lock(self.op["instance_name"])], LEVEL_NODE: nodes,
                LEVEL_NODE_RES: nodes}

    def opportunistic_locks(self) -> dict[str, int]:
        return {LEVEL_NODE: 1} if self.pnode is None and self.opportunistic else {}

    def locks_acquired(self, level: str, names: list[str]) -> dict[str, list[str] | str]:
        """The nodes locked opportunistically are the allocator's choice (node-res likewise)."""
        self.locked_nodes = list(names)
        return {LEVEL_NODE_RES: list(names)}

    def prepare_retry(self) -> bool:
        """Too little room among the free nodes: once more, waiting for every node's lock
        (the answer is then the whole cluster's)."""
        if not self.opportunistic:
            return False
        self.opportunistic = False
        self.locked_nodes = None
        self.pnode = None
        return True

    def choose_node(self) -> dict[str, Any]:
        """Run the allocator (all nodes locked, or those locked opportunistically), then give
        back the other nodes' locks."""
        op = self.op
        be = params.filled_beparams(self.cfg.cluster(), {"beparams": self.beparams})
        allocator = placement.allocator_name(self, op["iallocator"])
        try:
            nodes = placement.allocate(
                self, op["instance_name"], allocator,
                int(be["maxmem"]), [d["size"] for d in self.disks], op["disk_template"],
                int(be["vcpus"]), [n["nicparams"] for n in self.nics], op["os_type"] or "",
                op["tags"], only=self.locked_nodes if self.opportunistic else None)
        except OpPrereqError as err:
            if not self.opportunistic or err.args[1:] != (ECODE_NORES,):
                raise
            # Only a partial view of the cluster: a temporary shortage (Ganeti's
            # ECODE_TEMP_NORES); the job processor tries again with every node locked.
            raise OpPrereqError(err.message, ECODE_TEMP_NORES) from err
        pnode = nodes[0]
        if op["disk_template"] in instance_storage.MIRRORED_TEMPLATES:
            self.snode = nodes[1]          # the allocator answers required_nodes = 2
        self.release_locks(LEVEL_NODE, keep=self.nodes_needed(pnode))
        self.release_locks(LEVEL_NODE_RES, keep=self.nodes_needed(pnode))
        return pnode

    def nodes_needed(self, pnode: dict[str, Any]) -> list[str]:
        """UUIDs of the nodes whose locks stay held once the primary node is known: the
        disks' nodes (an import adds its source node)."""
        return self.disk_nodes(pnode)

    def disk_nodes(self, pnode: dict[str, Any]) -> list[str]:
        """UUIDs of the nodes that hold the new disks: the primary (and the secondary node
        of a drbd instance)."""
        nodes = [str(pnode["uuid"])]
        if self.snode is not None and self.snode["uuid"] != pnode["uuid"]:
            nodes.append(str(self.snode["uuid"]))
        return nodes

    def check_prereq(self) -> None:
        op, cfg = self.op, self.cfg
        cluster = cfg.cluster()
        name = op["instance_name"]
        if any(inst["name"] == name for inst in cfg.all("instances")):
            raise OpPrereqError(f"Instance '{name}' is already in the cluster", ECODE_EXISTS)
        if op["ip_check"]:
            names.check_ip_free(name, self.check_ip)
        if self.pnode is None:
            self.pnode = self.choose_node()
        node = cfg.get("nodes", self.pnode["uuid"])
        if node["offline"]:
            raise OpPrereqError(f"Cannot use offline node {node['name']}", ECODE_STATE)
        if node["drained"]:
            raise OpPrereqError(f"Cannot use drained node {node['name']}", ECODE_STATE)
        if not node["vm_capable"]:
            raise OpPrereqError(f"Node {node['name']} is not vm_capable", ECODE_STATE)
        if op["disk_template"] not in cluster["enabled_disk_templates"]:
            raise OpPrereqError(f"Disk template '{op['disk_template']}' is not enabled in the"
                                " cluster (gnt-cluster modify --enabled-disk-templates)",
                                ECODE_STATE)
        if self.hypervisor not in cluster["enabled_hypervisors"]:
            raise OpPrereqError(f"Hypervisor '{self.hypervisor}' is not enabled", ECODE_STATE)
        policy_checks.check_new_specs(
            self, str(node["group"]), params.filled_beparams(cluster, {"beparams": self.beparams}),
            [{"size": d["size"], "dev_type": op["disk_template"]} for d in self.disks],
            len(self.nics), op["ignore_ipolicy"])
        if self.snode is not None:
            self._check_secondary(node)
        if self.lvm_requests:
            self._check_lvm(node)
        if op["disk_template"] == params.DT_EXT:
            instance_ext.check_providers(cfg, node, self.disks)
        if op["os_type"]:
            checks.check_os(cfg, node, op["os_type"], op["osparams"])
        be = params.fill(params.filled_beparams(cluster, {"beparams": {}}), self.beparams)
        if be["minmem"] > be["maxmem"]:
            raise OpPrereqError(f"minmem ({be['minmem']}M) above maxmem ({be['maxmem']}M)",
                                ECODE_INVAL)
        self.start_memory = None
        if op["start"]:
            self.start_memory = checks.start_memory(cfg, node, be["minmem"], be["maxmem"],
                                                    name)
        self.nic_networks = instance_nics.NicNetworks(self, op["conflicts_check"])
        for index, nic in enumerate(self.nics):
            self.nic_networks.place_new_nic(index, nic, node["uuid"])
        used = cfg.all_macs()
        for nic in self.nics:
            if nic["mac"] in ("auto", "generate"):
                nic["mac"] = generate_mac(self.nic_networks.mac_prefix(nic["network"]), used)
            elif nic["mac"] in used:
                raise OpPrereqError(f"MAC address {nic['mac']} is already in use",
                                    ECODE_EXISTS)
            used.add(str(nic["mac"]))

    def _check_secondary(self, pnode: dict[str, Any]) -> None:
        """The secondary node of a drbd instance: another, usable node."""
        assert self.snode is not None
        snode = self.cfg.get("nodes", self.snode["uuid"])
        if snode["uuid"] == pnode["uuid"]:
            raise OpPrereqError("The secondary node cannot be the primary node", ECODE_INVAL)
        for flag, text in (("offline", "offline"), ("drained", "drained")):
            if snode[flag]:
                raise OpPrereqError(f"Cannot use {text} secondary node {snode['name']}",
                                    ECODE_STATE)
        if not snode["vm_capable"]:
            raise OpPrereqError(f"Node {snode['name']} is not vm_capable", ECODE_STATE)

    def _check_lvm(self, pnode: dict[str, Any]) -> None:
        """Volume groups with room on the instance's nodes, or the LVs to adopt usable."""
        nodes = [pnode] + ([self.cfg.get("nodes", self.snode["uuid"])] if self.snode else [])
        instance_storage.apply_group_metavg(self.cfg, pnode, self.lvm_requests)
        if any(req.adopt for req in self.lvm_requests):
            sizes = instance_storage.check_adoption(self.cfg, pnode, self.lvm_requests)
            for disk, size in zip(self.disks, sizes, strict=True):
                disk["size"] = size
            return
        instance_storage.check_free_space(
            self.cfg, nodes, instance_storage.space_per_vg(self.op["disk_template"],
                                                           self.lvm_requests))

    def _objects(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        from gnt.config.objects import new_uuid

        op, cluster = self.op, self.cfg.cluster()
        name = op["instance_name"]
        assert self.pnode is not None, "check_prereq chose the primary node"
        disks = []
        nodes = self.disk_nodes(self.pnode)
        planned = (instance_storage.plan_disks(self.cfg, op["disk_template"],
                                               self.lvm_requests, nodes[0], nodes[-1])
                   if self.lvm_requests else [])
        for index, disk in enumerate(self.disks):
            device = planned[index] if planned else {
                "dev_type": op["disk_template"], "size": disk["size"],
                "logical_id": ["loop", disk_path(cluster, op["disk_template"], name, index)]}
            if op["disk_template"] == params.DT_EXT:
                device = instance_ext.ext_device(disk, index)
            disks.append({"uuid": new_uuid(), **device, "size": disk["size"],
                          "mode": disk["mode"], "iv_name": f"disk/{index}", "nodes": nodes})
        instance = {
            "uuid": new_uuid(), "name": name, "primary_node": self.pnode["uuid"],
            "os": op["os_type"] or "", "hypervisor": self.hypervisor,
            "hvparams": self.hvparams, "beparams": self.beparams, "osparams": op["osparams"],
            "admin_state": "down", "admin_state_source": "admin", "disks_active": False,
            "disk_template": op["disk_template"], "disks": [d["uuid"] for d in disks],
            "nics": [{"uuid": new_uuid(), **nic} for nic in self.nics],
            "tags": sorted(set(op["tags"])),
        }
        return instance, disks

    def exec(self) -> Any:
        name = self.op["instance_name"]
        instance, disks = self._objects()
        self.ports = instance_storage.allocate_ports(self.cfg, disks)
        self.log(f"* adding instance {name} to the cluster config")
        try:
            with self.cfg.transaction():
                self.cfg.add("instances", instance, {"disks": disks})
                instance_nics.write_ip_changes(self.cfg, self.nic_networks.plan)
        except BaseException:
            instance_storage.release_ports(self.cfg, self.ports)
            raise
        node = self.cfg.get("nodes", instance["primary_node"])
        spec = instance_spec(self.cfg, instance, self.start_memory)
        host = {"gnt_instance": spec, "gnt_node": node_vars(self.cfg, node)}
        # diskless: no disks to make and, as in Ganeti, no OS script to run
        create = (self.node_plays(node, host) if self.disks or self.op["mode"] != "create"
                  else [])
        if create:
            self.log("* creating instance disks" + ("" if self.op["no_install"]
                                                    else " and running the OS create scripts"))
        start = ([Play("instance_start", {node["name"]: host}, title="start")]
                 if self.op["start"] else [])
        if start:
            self.log("* starting instance...")
        if not create and not start:
            return [node["name"]]
        # One Ansible run for every step; the failed step decides what is undone.
        result = self.ctx.executor.run(create + start, self._accesses(create + start),
                                       self.feedback)
        failed = result.first_failed_play()
        if failed is not None and failed < len(create):
            self._undo_create(instance, node, host)
            raise OpExecError(f"Could not create instance {name}:\n{result.failure_summary()}")
        if create:
            self.report_node_plays(node, result)
        if failed is not None:
            raise OpExecError(f"Could not start instance {name}:\n{result.failure_summary()}"
                              "\nThe instance was created but did not start; fix the cause and"
                              f" run 'gnt-instance startup {name}'")
        if start:
            self.cfg.modify("instances", instance["uuid"],  # as Ganeti: disks active too
                            lambda obj: obj.update(admin_state="up", disks_active=True))
        return [node["name"]]

    def node_plays(self, node: dict[str, Any], host: dict[str, Any]) -> list[Play]:
        """What makes the instance on its node: disks (drbd: on both nodes, the first primary
        forced, then the initial resync waited for unless --no-wait-for-sync), then the OS
        install."""
        mirror = []
        if instance_drbd.is_drbd(host["gnt_instance"]):
            instance = self.cfg.get("instances", host["gnt_instance"]["uuid"])
            snode = self.cfg.get("nodes", self.cfg.instance_secondaries(instance)[0])
            mirror = [instance_drbd.play(
                self.cfg, instance, [(node, "primary"), (snode, "secondary")],
                "create mirrored disks", create=True, force=True,
                wait_sync=self.op["wait_for_sync"])]
            if self.op["wait_for_sync"]:
                self.log("* waiting for the initial DRBD resync (--no-wait-for-sync skips it)")
        return mirror + [Play("instance_create", {node["name"]: self.create_vars(host)},
                              title="create disks and install OS")]

    def _accesses(self, plays: list[Play]) -> dict[str, Any]:
        """How to reach every node the plays run on."""
        return {name: _access(self.cfg, self.cfg.lookup("nodes", name))
                for play in plays for name in play.hosts}

    def create_vars(self, host: dict[str, Any]) -> dict[str, Any]:
        """The instance_create role's vars: the instance and node, whether to install, and
        (plain) the LVs to adopt."""
        adopt = [req.adopt for req in self.lvm_requests if req.adopt]
        return {**host, "gnt_install": not self.op["no_install"],
                **({"gnt_adopt": adopt} if adopt else {})}

    def report_node_plays(self, node: dict[str, Any], result: RunResult) -> None:
        """Log what the node-side steps reported (nothing for a plain create)."""

    def _undo_create(self, instance: dict[str, Any], node: dict[str, Any],
                     host: dict[str, Any]) -> None:
        """After a failed disk creation or OS install: remove what was made on the node and
        the config entry (or say which command does)."""
        self.log("* removing the half-created instance (disks and config)")
        plays = [Play("instance_remove", {node["name"]: host}, title="clean up"),
                 *instance_drbd.shutdown_plays(self, instance, "absent")]
        cleanup = self.ctx.executor.run(plays, self._accesses(plays), self.feedback)
        if cleanup.ok:
            with self.cfg.transaction():
                self.cfg.remove("instances", instance["uuid"], {"disks": instance["disks"]})
                instance_nics.release_instance_ips(self.cfg, instance)
            instance_storage.release_ports(self.cfg, getattr(self, "ports", []))
        else:
            self.log(f"  - could not clean up; run 'gnt-instance remove {instance['name']}'")


def _access(cfg: Any, node: dict[str, Any]) -> Any:
    from gnt.nodes.nodevars import node_access
    return node_access(cfg, node)


def _valid_mac(mac: str) -> bool:
    parts = mac.split(":")
    return len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p)
                                   for p in parts)

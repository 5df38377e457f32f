"""Logical units of nodes: add (and re-add), remove, modify roles and parameters; redist-conf."""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from gnt.config import candidates
from gnt.config.objects import new_uuid
from gnt.core import resolver, settings
from gnt.core.errors import (
    ECODE_ENVIRON,
    ECODE_EXISTS,
    ECODE_INVAL,
    ECODE_NOENT,
    ECODE_STATE,
    OpExecError,
    OpPrereqError,
)
from gnt.core.locklevels import ALL, LEVEL_NODE
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import knownhosts, rpc, sshkeys
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import node_access
from gnt.nodes.prepare import prepare_node
from gnt.opcodes import params


def _check_ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise OpPrereqError(f"Invalid {what} '{value}': not an IPv4 address",
                            ECODE_INVAL) from None


def ssh_keys_play(node_name: str) -> Play:
    """The play giving a joining node the cluster's key pair and trusting the master's keys."""
    keys = sshkeys.master_public_keys()
    spec = {"ssh_dir": str(sshkeys.ssh_dir()), "key_name": sshkeys.KEY_NAME, "private_key_src": str(sshkeys.key_path()),
            "public_key": keys[0], "authorized_keys": keys}
    return Play("node_ssh_keys", {node_name: {"gnt_ssh_keys": spec}},
                title="install the cluster's SSH keys")


@register
class LUNodeAdd(LogicalUnit):
    """Add a node: reach it over SSH (accepting its host key: the first contact), check it,
    record its SSH host keys, prepare it, set up the cluster's SSH keys, add it to the config
    (a master candidate while the pool is short); replication then reaches it, and every node
    gets the cluster's known_hosts file listing it. ``--readd`` refreshes the recorded host
    keys (e.g. of a reinstalled node)."""

    OP_ID = "OP_NODE_ADD"
    BGL_SHARED = False

    def check_arguments(self) -> None:
        op = self.op
        if not resolver.valid_hostname(op["node_name"]):
            raise OpPrereqError(f"Invalid node name '{op['node_name']}'", ECODE_INVAL)
        found = resolver.canonical(op["node_name"])
        if op["primary_ip"]:
            self.primary_ip = _check_ip(op["primary_ip"], "primary IP")
            self.name = found[0] if found else op["node_name"]
        elif found:
            self.name, self.primary_ip = found
        else:
            raise OpPrereqError(f"Node name '{op['node_name']}' does not resolve (names come"
                                f" from {resolver.hosts_file()}, not DNS); add it there or"
                                " give its address", ECODE_NOENT)
        self.secondary_ip = (_check_ip(op["secondary_ip"], "secondary IP")
                             if op["secondary_ip"] else self.primary_ip)
        self.ndparams = params.check_ndparams(op["ndparams"]) if op["ndparams"] else {}

    def expand_names(self) -> None:
        self.existing = self.cfg.find("nodes", self.name)
        if self.existing is not None and self.existing["name"] != self.name:
            self.existing = None  # a short-name match of another node is not this node

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODE: ALL}

    def check_prereq(self) -> None:
        op, cfg = self.op, self.cfg
        if op["readd"]:
            if self.existing is None:
                raise OpPrereqError(f"Node {self.name} is not in the configuration: cannot"
                                    " re-add it (leave out --readd)", ECODE_NOENT)
            if self.existing["uuid"] == cfg.cluster()["master_node"]:
                raise OpPrereqError("Cannot re-add the master node", ECODE_INVAL)
        elif self.existing is not None:
            raise OpPrereqError(f"Node {self.name} is already in the configuration (use"
                                " --readd to add it again)", ECODE_EXISTS)
        for node in cfg.all("nodes"):
            if self.existing is not None and node["uuid"] == self.existing["uuid"]:
                continue
            for ip in sorted({self.primary_ip, self.secondary_ip}):
                if ip in (node["primary_ip"], node["secondary_ip"]):
                    raise OpPrereqError(f"IP address {ip} of node {self.name} is already used"
                                        f" by node {node['name']}", ECODE_EXISTS)
        master = cfg.master_node()
        master_single = master["primary_ip"] == master["secondary_ip"]
        if master_single and self.secondary_ip != self.primary_ip:
            raise OpPrereqError("The master has no secondary IP (single-homed cluster): the"
                                f" new node cannot have one ({self.secondary_ip})", ECODE_INVAL)
        if not master_single and self.secondary_ip == self.primary_ip:
            raise OpPrereqError("The master has a secondary IP (dual-homed cluster): give the"
                                " new node one with -s", ECODE_INVAL)
        group_name = op["group"]
        if group_name:
            self.group = cfg.lookup("nodegroups", group_name)["uuid"]
        elif self.existing is not None:
            self.group = self.existing["group"]
        else:
            self.group = self._default_group()
        self.ssh_port = int(params.filled_ndparams(cfg.cluster(), {"ndparams": self.ndparams})
                            .get("ssh_port", 22))
        self.facts = self._check_node()

    def _default_group(self) -> str:
        master_group = self.cfg.master_node()["group"]
        return str(master_group)

    def _check_node(self) -> dict[str, Any]:
        """Reachable over SSH, gnt installed, libvirt answering, not in another cluster."""
        where = f"Node {self.name} ({self.primary_ip})"
        try:
            answer = knownhosts.join_check(self.name, self.primary_ip, self.ssh_port,
                                           self.cfg.cluster()["file_storage_dir"])
        except rpc.NodeUnreachable as err:
            raise OpPrereqError(f"{where} is not reachable over SSH as root: {err}"
                                " (the master's key must be accepted: e.g. ssh-copy-id"
                                f" root@{self.primary_ip})", ECODE_ENVIRON) from None
        except rpc.AgentMissing as err:
            raise OpPrereqError(f"{where} has no gnt.cluster installation at"
                                f" {sys.executable}: {err}", ECODE_ENVIRON) from None
        except rpc.BadAnswer as err:
            raise OpPrereqError(f"{where} answered its checks with garbage: {err}",
                                ECODE_ENVIRON) from None
        except rpc.NodeDown as err:
            raise OpPrereqError(f"{where} failed its checks (libvirt must answer at"
                                f" qemu:///system): {err}", ECODE_ENVIRON) from None
        if answer.get("cluster_config") and not self.op["readd"]:
            raise OpPrereqError(f"{where} has a cluster configuration"
                                f" ({answer['cluster_config']}): it belongs to a cluster already"
                                " (gnt-cluster destroy there, or --readd)", ECODE_STATE)
        info = answer.get("info")
        if not isinstance(info, dict):
            raise OpPrereqError(f"{where} answered its checks with garbage: {answer!r:.200}",
                                ECODE_ENVIRON)
        try:
            # The one moment a node's host key is accepted: recorded, then checked strictly.
            self.host_keys = knownhosts.fetch_keys(self.name, self.primary_ip, self.ssh_port)
        except knownhosts.HostKeyError as err:
            raise OpPrereqError(f"{where}: could not read its SSH host keys: {err}",
                                ECODE_ENVIRON) from None
        return info

    def _record_host_keys(self, node: dict[str, Any]) -> None:
        """Put the keys read from the node into its record and write the master's known_hosts
        file as it will be with the node, so the add's own plays check the key strictly."""
        if self.host_keys:
            node[knownhosts.FIELD] = self.host_keys
            self.log(f"SSH host keys of {self.name}: "
                     + ", ".join(knownhosts.fingerprint(key) for key in self.host_keys))
        else:
            self.log(f"WARNING: {self.name} listed no SSH host keys: the cluster's ssh"
                     " connections to it will fail host key verification")
        master = self.cfg.master_node()
        if not knownhosts.recorded_keys(master):
            # recorded by an older version: record the master's own keys now as well
            port = int(params.filled_ndparams(self.cfg.cluster(), master).get("ssh_port", 22))
            keys = knownhosts.local_keys(master["primary_ip"], port)
            if keys:
                self.cfg.modify("nodes", master["uuid"],
                                lambda obj: obj.update({knownhosts.FIELD: keys}))
        knownhosts.write_local(knownhosts.with_node(self.cfg.data, node))

    def exec(self) -> Any:
        op, cfg = self.op, self.cfg
        self.log(f"Node {self.name}: reachable, {self.facts.get('ctotal')} CPUs,"
                 f" {self.facts.get('mtotal')} MiB memory, {self.facts.get('hv_version')}")
        if self.existing is not None:
            node = dict(self.existing)
        else:
            node = {"uuid": new_uuid(), "name": self.name, "tags": []}
        node.update(primary_ip=self.primary_ip, secondary_ip=self.secondary_ip,
                    offline=False, drained=False, group=self.group,
                    master_capable=(op["master_capable"] if op["master_capable"] is not None
                                    else node.get("master_capable", True)),
                    vm_capable=(op["vm_capable"] if op["vm_capable"] is not None
                                else node.get("vm_capable", True)),
                    ndparams={**node.get("ndparams", {}), **self.ndparams})
        others = [n for n in cfg.all("nodes") if n["uuid"] != node["uuid"]]
        node["master_candidate"] = candidates.new_node_is_candidate(
            others, cfg.cluster()["candidate_pool_size"], node)
        self._record_host_keys(node)
        try:
            prepared = prepare_node(cfg, node, self.ctx.executor, self.feedback,
                                    after=[ssh_keys_play(node["name"])])
        except BaseException:
            knownhosts.write_local(cfg.data)   # back to the nodes of the config
            raise
        self.log(f"Installed the cluster's SSH key pair on {self.name}")
        if prepared.get("module_process") == "warm":
            self.log(f"Modules on {self.name} run in its warm module interpreter")
        if self.existing is not None:
            cfg.modify("nodes", node["uuid"], lambda obj: obj.update(node))
            self.log(f"Re-added node {self.name}")
        else:
            cfg.add("nodes", node)
            self.log(f"Added node {self.name}")
        if node["master_candidate"]:
            self.log(f"Node {self.name} is a master candidate (pool size"
                     f" {cfg.cluster()['candidate_pool_size']})")
        failed = self.ctx.config.on_commit and getattr(self.ctx.config.on_commit,
                                                       "failures", {}).get(self.name)
        if failed:
            self.log(f"WARNING: the configuration did not reach {self.name}: {failed}"
                     " (gnt-cluster redist-conf retries)")
        return self.name


@register
class LUNodePowercycle(LogicalUnit):
    """Have a node reboot itself hard (SysRq) a few seconds after it answers; as Ganeti, a
    last resort that takes no locks, and the master only with ``force``."""

    OP_ID = "OP_NODE_POWERCYCLE"

    def check_arguments(self) -> None:
        self.node = self.cfg.lookup("nodes", self.op["node_name"])
        if self.node["uuid"] == self.cfg.cluster()["master_node"] and not self.op["force"]:
            raise OpPrereqError("The node is the master and the force parameter was not set",
                                ECODE_INVAL)

    def exec(self) -> Any:
        try:
            return rpc.powercycle(self.cfg, self.cfg.get("nodes", self.node["uuid"]))
        except rpc.NodeDown as err:
            raise OpExecError(f"Failed to schedule the reboot: {err}") from err


@register
class LUNodeRemove(LogicalUnit):
    """Remove a node that is not the master and has no instances."""

    OP_ID = "OP_NODE_REMOVE"
    BGL_SHARED = False

    def expand_names(self) -> None:
        self.node = self.cfg.lookup("nodes", self.op["node_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODE: ALL}

    def check_prereq(self) -> None:
        node = self.node = self.cfg.get("nodes", self.node["uuid"])
        if node["uuid"] == self.cfg.cluster()["master_node"]:
            raise OpPrereqError(f"Node {node['name']} is the master node: fail the master over"
                                " to another node first (gnt-cluster master-failover)",
                                ECODE_INVAL)
        used = sorted(inst["name"] for inst in self.cfg.all("instances")
                      if node["uuid"] == inst["primary_node"]
                      or node["uuid"] in inst.get("secondary_nodes", []))
        if used:
            raise OpPrereqError(f"Node {node['name']} still has instances ({', '.join(used)}):"
                                " move, fail over or remove them first", ECODE_STATE)

    def exec(self) -> Any:
        node, cfg = self.node, self.cfg
        access = node_access(cfg, node)
        cfg.remove("nodes", node["uuid"])
        self.log(f"Removed node {node['name']} from the configuration")
        promote_pool(self)
        if node["offline"]:
            self.log(f"Node {node['name']} is offline: its ssconf/config files were left")
            return None
        leave = {"gnt_node_leave": {"data_dir": str(settings.paths().data_dir),
                                    "os_dir": str(settings.paths().os_dir)}}
        result = self.ctx.executor.run(
            [Play("node_leave", {node["name"]: leave}, title="forget the cluster")],
            {node["name"]: access}, self.feedback)
        if not result.ok:
            self.log(f"WARNING: could not clean up node {node['name']}:"
                     f" {result.failure_summary()} (remove {settings.paths().data_dir}"
                     "/config.data and ssconf_* there)")
        return None


def promote_pool(lu: LogicalUnit, exclude: tuple[str, ...] = ()) -> list[str]:
    """Promote nodes until the candidate pool is full; returns their names."""
    cfg = lu.cfg
    promoted = []
    for node in candidates.to_promote(cfg.all("nodes"), cfg.cluster()["candidate_pool_size"],
                                      exclude):
        cfg.modify("nodes", node["uuid"], lambda obj: obj.update(master_candidate=True))
        promoted.append(node["name"])
        lu.log(f"Promoted node {node['name']} to master candidate")
    return promoted


@register
class LUNodeSetParams(LogicalUnit):
    """Change roles (-C/-D/-O, capabilities) and parameters of a node."""

    OP_ID = "OP_NODE_SET_PARAMS"
    BGL_SHARED = False
    FLAGS = ("master_candidate", "offline", "drained")

    def check_arguments(self) -> None:
        op = self.op
        set_true = [flag for flag in self.FLAGS if op[flag]]
        if len(set_true) > 1:
            raise OpPrereqError(f"Only one of {', '.join(set_true)} can be set to yes at a"
                                " time (a node has one role)", ECODE_INVAL)
        changes = [key for key in ("master_candidate", "offline", "drained", "master_capable",
                                   "vm_capable", "secondary_ip", "powered")
                   if op[key] is not None] + (["ndparams"] if op["ndparams"] else [])
        if not changes:
            raise OpPrereqError("Please give at least one of the parameters to change",
                                ECODE_INVAL)
        if op["secondary_ip"]:
            op["secondary_ip"] = _check_ip(op["secondary_ip"], "secondary IP")
        self.ndparams = params.check_ndparams(op["ndparams"], allow_default=True) \
            if op["ndparams"] else {}

    def expand_names(self) -> None:
        self.node = self.cfg.lookup("nodes", self.op["node_name"])

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODE: ALL}

    def check_prereq(self) -> None:
        op, cfg = self.op, self.cfg
        node = self.node = cfg.get("nodes", self.node["uuid"])
        is_master = node["uuid"] == cfg.cluster()["master_node"]
        if is_master and (op["master_candidate"] is False or op["offline"] or op["drained"]
                          or op["master_capable"] is False):
            raise OpPrereqError(f"Node {node['name']} is the master: it cannot be demoted,"
                                " offlined, drained or made not master-capable (fail the"
                                " master over first)", ECODE_INVAL)
        new = dict(node)
        for key in ("master_candidate", "offline", "drained", "master_capable", "vm_capable"):
            if op[key] is not None:
                new[key] = op[key]
        if op["offline"] or op["drained"] or op["master_capable"] is False:
            new["master_candidate"] = False  # these roles leave the candidate pool
        if op["offline"]:
            new["drained"] = False  # one role at a time: as in Ganeti, offline replaces drained
        if op["offline"] is False and node["offline"]:
            self._check_answers(node)
        if op["offline"] is False and node["offline"] or op["drained"] is False \
                and node["drained"]:
            # Back in service: a candidate again if the pool is short (Ganeti re-promotes).
            others = [n for n in cfg.all("nodes") if n["uuid"] != node["uuid"]]
            new["master_candidate"] = op["master_candidate"] if op["master_candidate"] \
                is not None else candidates.new_node_is_candidate(
                    others, cfg.cluster()["candidate_pool_size"], new)
        if new["master_candidate"] and not candidates.eligible(new):
            raise OpPrereqError(f"Node {node['name']} cannot be a master candidate while it is"
                                f" {self._why_not_eligible(new)}", ECODE_STATE)
        if op["offline"] and not node["offline"]:
            running = self._running_instances(node)
            if running:
                raise OpPrereqError(f"Node {node['name']} has running instances"
                                    f" ({', '.join(running)}): stop or migrate them before"
                                    " offlining it", ECODE_STATE)
        self.new = new
        self.demoting = node["master_candidate"] and not new["master_candidate"]
        if self.demoting:
            nodes = [new if n["uuid"] == new["uuid"] else n for n in cfg.all("nodes")]
            mine = (node["uuid"],)
            # Ganeti's rule: the pool as it would be without this node (so demoting one of
            # exactly enough candidates is fine; it is refused while another eligible node
            # could take the place).
            current, possible = candidates.pool_stats(nodes, exclude=mine)
            wanted = candidates.wanted_size(cfg.cluster()["candidate_pool_size"], possible)
            spare = candidates.to_promote(nodes, cfg.cluster()["candidate_pool_size"], mine)
            if current < wanted and not op["auto_promote"] and not op["force"]:
                names = ", ".join(n["name"] for n in spare) or "none"
                raise OpPrereqError(
                    f"Demoting node {node['name']} would leave {current} master candidate(s),"
                    f" fewer than the pool size {wanted}: use --auto-promote to promote"
                    f" another node (would promote: {names}) or --force", ECODE_STATE)
        if op["vm_capable"] is False and node["vm_capable"]:
            hosted = sorted(i["name"] for i in cfg.all("instances")
                            if i["primary_node"] == node["uuid"])
            if hosted:
                raise OpPrereqError(f"Node {node['name']} hosts instances ({', '.join(hosted)}):"
                                    " cannot unset its vm_capable flag", ECODE_STATE)
        if op["secondary_ip"] and op["secondary_ip"] != node["secondary_ip"]:
            for other in cfg.all("nodes"):
                if other["uuid"] != node["uuid"] and op["secondary_ip"] in (
                        other["primary_ip"], other["secondary_ip"]):
                    raise OpPrereqError(f"Secondary IP {op['secondary_ip']} is already used by"
                                        f" node {other['name']}", ECODE_EXISTS)
            single = all(n["primary_ip"] == n["secondary_ip"] for n in cfg.all("nodes")
                         if n["uuid"] != node["uuid"])
            if single and op["secondary_ip"] != node["primary_ip"]:
                raise OpPrereqError(f"The cluster is single-homed (no node has a separate"
                                    f" secondary IP): node {node['name']} cannot get secondary"
                                    f" IP {op['secondary_ip']}", ECODE_INVAL)
            new["secondary_ip"] = op["secondary_ip"]
        if self.ndparams:
            new["ndparams"] = params.merge_overrides(node["ndparams"], self.ndparams)
        if op["powered"] is not None:
            new["powered"] = op["powered"]

    def _check_answers(self, node: dict[str, Any]) -> None:
        """Before a node leaves the offline role, as Ganeti: it must answer (else refused), and
        a warning that only a re-add sets it up again (after a reboot its bridges may be
        gone)."""
        try:
            rpc.live_info_or_error(self.cfg, {**node, "offline": False})
        except rpc.NodeDown as err:
            raise OpPrereqError(f"Node {node['name']} is being brought back online but does"
                                f" not answer: {err}", ECODE_STATE) from err
        self.log(f"  - WARNING: node {node['name']} comes back online without a re-add: make"
                 " sure it is healthy (gnt-cluster verify), or use gnt-node add --readd")

    @staticmethod
    def _why_not_eligible(node: dict[str, Any]) -> str:
        if node["offline"]:
            return "offline"
        if node["drained"]:
            return "drained"
        return "not master-capable"

    def _running_instances(self, node: dict[str, Any]) -> list[str]:
        from gnt.nodes import live

        mine = [i for i in self.cfg.all("instances") if i["primary_node"] == node["uuid"]]
        if not mine:
            return []
        try:
            doms = live.node_domains(self.cfg, node)
        except live.NodeDown:
            return []  # unreachable: offlining it is what the operator wants
        return sorted(i["name"] for i in mine
                      if doms.get(i["name"], {}).get("state") in ("running", "paused",
                                                                  "blocked"))

    def exec(self) -> Any:
        node, new = self.node, self.new
        changes = [(key, new[key]) for key in sorted(new)
                   if key not in ("serial_no", "mtime") and new.get(key) != node.get(key)]
        if not changes:
            return []
        self.cfg.modify("nodes", node["uuid"], lambda obj: obj.update(dict(changes)))
        for key, value in changes:
            self.log(f"Node {node['name']}: {key} -> {value}")
        if self.demoting and self.op["auto_promote"]:
            promote_pool(self, exclude=(node["uuid"],))
        return [[key, value] for key, value in changes]


@register
class LUClusterRedistConf(LogicalUnit):
    """Push config and ssconf files to every online node again."""

    OP_ID = "OP_CLUSTER_REDIST_CONF"

    def exec(self) -> Any:
        warnings = self.cfg.redistribute()
        for warning in warnings:
            self.log(f"WARNING: {warning}")
        online = [n["name"] for n in self.cfg.all("nodes") if not n["offline"]]
        self.log(f"Configuration pushed to {len(online) - len(warnings)} of {len(online)}"
                 " online node(s)")
        if warnings:
            raise OpExecError("Could not update every node:\n" + "\n".join(warnings))
        return None

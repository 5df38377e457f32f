"""``gnt-cluster verify``: the config, every node, every instance (its state and whether it
meets its group's instance policy), disks and N+1 memory.

Everything is read live (one SSH round per node, all at once) and compared with the config;
each problem is one ``ERROR``/``WARNING`` line naming the object, with Ganeti's error code
(:mod:`gnt.opcodes.verify_codes`; printed with ``error_codes``), and the result says how many
errors there were (the CLI exits 1 if any). Errors of the codes in ``ignore_errors`` are
reported as warnings and not counted, as Ganeti's ``--ignore-errors``.

Ganeti's other OpClusterVerify fields (:mod:`gnt.lu.verify_options`): ``group_name`` verifies
one node group (its nodes and their instances, locked alone; no cluster-wide checks),
``skip_checks`` skips the N+1 check and the hypervisor parameter assessment,
``verify_clutter`` looks for nodes' users with several keys in the nodes' authorized_keys and
``debug_simulate_errors`` reports every check as failed.
"""

from __future__ import annotations

from typing import Any

from gnt.config import schema
from gnt.core.errors import ECODE_STATE, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_INSTANCE, LEVEL_NODE, LEVEL_NODEGROUP
from gnt.lu import policy_checks, verify_options, verify_storage
from gnt.lu.base import LogicalUnit, register
from gnt.nodes import knownhosts, live, rpc
from gnt.nodes.nodevars import bridges
from gnt.opcodes import params
from gnt.opcodes import verify_codes as cv
from gnt.opcodes.verify_codes import VerifyCode

RUNNING = ("running", "paused", "blocked")
FAILOVER_TEMPLATES = (params.DT_SHARED_FILE, params.DT_EXT)   # fail over to any node
MIRRORED_TEMPLATES = (params.DT_DRBD8,)                           # fail over to the secondary


def n_plus_one_failures(nodes: list[dict[str, Any]], instances: list[dict[str, Any]],
                        free_mib: dict[str, int], memory_of: dict[str, int],
                        secondary_of: dict[str, str] | None = None) -> list[str]:
    """Names of nodes whose failure could not be absorbed: their running drbd instances must
    fit into their secondary node's free memory (``secondary_of``: instance uuid -> node
    uuid), then their instances of templates that fail over anywhere (greedy, biggest first)
    into the other usable nodes' free memory. ``free_mib`` and ``memory_of`` are keyed by
    node and instance uuid."""
    usable = [n for n in nodes if not n["offline"] and not n["drained"] and n["vm_capable"]
              and n["uuid"] in free_mib]
    secondary_of = secondary_of or {}
    failing = []
    for node in usable:
        running = [i for i in instances
                   if i["primary_node"] == node["uuid"] and i["uuid"] in memory_of]
        movable = sorted((memory_of[i["uuid"]] for i in running
                          if i["disk_template"] in FAILOVER_TEMPLATES), reverse=True)
        fixed = [(secondary_of.get(i["uuid"]), memory_of[i["uuid"]]) for i in running
                 if i["disk_template"] in MIRRORED_TEMPLATES]
        if not movable and not fixed:
            continue
        room = {n["uuid"]: free_mib[n["uuid"]] for n in usable if n["uuid"] != node["uuid"]}
        if not _fits_fixed(room, fixed) or not _fits_anywhere(room, movable):
            failing.append(node["name"])
    return failing


def _fits_fixed(room: dict[str, int], fixed: list[tuple[str | None, int]]) -> bool:
    """Take each instance's memory from its one target node's room; False if one does not
    fit (or its target cannot take instances)."""
    for target, need in fixed:
        if target is None or room.get(target, -1) < need:
            return False
        room[target] -= need
    return True


def _fits_anywhere(room: dict[str, int], movable: list[int]) -> bool:
    """Place each need (biggest first) on the first node with room left, in order of room."""
    free = sorted(room.values(), reverse=True)
    for need in movable:
        for index, left in enumerate(free):
            if left >= need:
                free[index] -= need
                break
        else:
            return False
    return True


@register
class LUClusterVerify(LogicalUnit):
    """Verify the config and, on every online node, storage, config copies and instances
    (``group_name``: only that group's nodes and instances, not the config)."""

    OP_ID = "OP_CLUSTER_VERIFY"
    SHARED_LEVELS = frozenset({LEVEL_INSTANCE, LEVEL_NODEGROUP, LEVEL_NODE})

    def expand_names(self) -> None:
        name = self.op.get("group_name")
        self.group = verify_options.find_group(self.cfg, name) if name else None
        # the group's nodes and instances (UUIDs) as locked; empty for a cluster-wide verify
        self.group_nodes: set[str] = set()
        self.group_instances: set[str] = set()
        if self.group is not None:
            self.group_nodes, self.group_instances = verify_options.group_members(
                self.cfg, self.group)

    def declare_locks(self) -> dict[str, list[str] | str]:
        if self.group is None:
            return {LEVEL_INSTANCE: ALL, LEVEL_NODE: ALL}
        # a group's verify leaves the other groups' nodes and instances to other jobs
        return {LEVEL_INSTANCE: sorted(self.group_instances),
                LEVEL_NODEGROUP: [str(self.group["uuid"])], LEVEL_NODE: sorted(self.group_nodes)}

    def check_prereq(self) -> None:
        if self.group is None:
            return
        # the group may have changed before its locks were taken (Ganeti: missing locks)
        nodes, instances = verify_options.group_members(self.cfg, self.group)
        if not (nodes <= self.group_nodes and instances <= self.group_instances):
            raise OpPrereqError(f"The nodes or instances of node group '{self.group['name']}'"
                                " changed while its locks were taken; verify it again",
                                ECODE_STATE)

    def exec(self) -> Any:
        self.errors = 0
        self.error_codes = bool(self.op.get("error_codes"))
        self.ignored = set(self.op.get("ignore_errors") or [])
        self.simulate = bool(self.op.get("debug_simulate_errors"))
        skip = set(self.op.get("skip_checks") or [])
        cfg = self.cfg
        every_instance = cfg.all("instances")
        nodes = sorted(cfg.all("nodes"), key=lambda n: n["name"])
        instances = every_instance
        if self.group is None:
            self._verify_config()
        else:   # Ganeti: a group's verify checks no cluster-wide settings
            self.log(f"* Verifying group '{self.group['name']}'")
            nodes = [n for n in nodes if n["group"] == self.group["uuid"]]
            mine = {n["uuid"] for n in nodes}
            instances = [i for i in every_instance if i["primary_node"] in mine]
            if not nodes:
                self.log("* Empty node group, skipping verification")
                return {"ok": True, "errors": 0}
        online = [n for n in nodes if not n["offline"]]
        self.log("* Verifying node status")
        infos = rpc.verify_info_many(cfg, online, verify_storage.what_to_ask(cfg, online))
        domains = live.domains_by_node(cfg, {n["uuid"] for n in online})
        for node in nodes:
            if node["offline"]:
                self.log(f"  - NOTICE: node {node['name']} is offline, not checked")
                continue
            self._verify_host_keys(node)
            info = infos.get(node["uuid"])
            reachable = isinstance(info, dict)
            hint = "" if reachable else _host_key_hint(node, str(info))
            # ssh is our node RPC: a refused host key is Ganeti's ssh finding, else RPC's
            self._error_if(not reachable, cv.ENODESSH if hint else cv.ENODERPC, node["name"],
                           f"not reachable: {info}{hint}" if not reachable
                           else "not reachable (simulated)")
            if not isinstance(info, dict):
                continue
            self._error_if(domains.get(node["uuid"]) is None, cv.ENODEHV, node["name"],
                           "hypervisor (libvirt) did not answer")
            self._verify_node(node, info)
        if self.op.get("verify_clutter"):
            self.log("* Verifying SSH key clutter")
            self._verify_clutter([n for n in online if isinstance(infos.get(n["uuid"]), dict)])
        self.log("* Verifying instance status")
        self._verify_instances(instances, domains, {i["name"] for i in every_instance})
        self.log("* Verifying disks")
        self._verify_disks(instances, nodes, infos, every_instance)
        for finding in verify_storage.storage_findings(cfg, nodes, infos):
            self._report(finding.level, finding.code, finding.name, finding.message)
        if cv.VERIFY_NPLUSONE_MEM not in skip:
            self.log("* Verifying N+1 memory redundancy")
            self._verify_n_plus_one(nodes, instances, domains)
        if cv.VERIFY_HVPARAM_ASSESSMENT not in skip:
            self._assess_hvparams()
        self.log(f"* Verification done: {self.errors} error(s)")
        return {"ok": self.errors == 0, "errors": self.errors}

    def _verify_config(self) -> None:
        """The cluster-wide check (Ganeti's OpClusterVerifyConfig): the config's validity."""
        self.log("* Verifying cluster config")
        problem = None
        try:
            schema.validate(self.cfg.data)
        except Exception as err:  # report, do not stop verifying
            problem = str(err)
        self._error_if(problem is not None, cv.ECLUSTERCFG, "config",
                       problem or "(simulated)")

    def _assess_hvparams(self) -> None:
        """Notes about the cluster's hypervisor parameters; never errors (Ganeti's
        assessment)."""
        self.log("* Assessing cluster hypervisor parameters")
        notes = verify_options.assess_hvparams(self.cfg.cluster())
        for note in notes:
            self.log(f"  - {note}")
        if notes:
            self.log(f"  - Note: {verify_options.ASSESSMENT_NOTE}")

    def _verify_clutter(self, nodes: list[dict[str, Any]]) -> None:
        """Cluster nodes' users with several keys in root's authorized_keys (Ganeti's
        ``--verify-ssh-clutter``: ENODESSH)."""
        for uuid, found in verify_options.ssh_clutter(self.cfg, nodes).items():
            name = self.cfg.get("nodes", uuid)["name"]
            if isinstance(found, str):
                self._error(cv.ENODESSH, name, f"could not check its authorized_keys: {found}")
                continue
            self._error_if(bool(found), cv.ENODESSH, name,
                           verify_options.clutter_message(found or {"(simulated)": []}))

    def _report(self, level: str, code: VerifyCode, name: str, message: str) -> None:
        """Log one finding (an error of an ignored code as a warning); count the errors."""
        if level == cv.ERROR and code.name in self.ignored:
            level = cv.WARNING
        if level == cv.ERROR:
            self.errors += 1
        self.log(cv.format_line(level, code, name, message, self.error_codes))

    def _error(self, code: VerifyCode, name: str, message: str) -> None:
        self._report(cv.ERROR, code, name, message)

    def _warn(self, code: VerifyCode, name: str, message: str) -> None:
        self._report(cv.WARNING, code, name, message)

    def _error_if(self, failed: bool, code: VerifyCode, name: str, message: str) -> None:
        """One check: an error if it failed, or always with ``debug_simulate_errors``."""
        if failed or self.simulate:
            self._error(code, name, message)

    def _warn_if(self, failed: bool, code: VerifyCode, name: str, message: str) -> None:
        """One check whose failure is a warning (also always with
        ``debug_simulate_errors``)."""
        if failed or self.simulate:
            self._warn(code, name, message)

    def _failing(self, failed: Any, checked: Any) -> list[Any]:
        """The items whose check failed, sorted; with ``debug_simulate_errors``, every item
        checked."""
        return sorted(checked if self.simulate else failed)

    def _verify_host_keys(self, node: dict[str, Any]) -> None:
        """A node without recorded SSH host keys cannot be verified by the others."""
        if node["uuid"] == self.cfg.cluster()["master_node"]:
            fix = "the next 'gnt-node add' records them"
        else:
            fix = f"'gnt-node add --readd {node['name']}' records them"
        self._warn_if(not knownhosts.recorded_keys(node), cv.ENODESSH, node["name"],
                      "no SSH host keys recorded: the cluster's ssh connections to it cannot"
                      f" verify its host key ({fix})")

    def _verify_node(self, node: dict[str, Any], info: dict[str, Any]) -> None:
        cfg = self.cfg
        master = cfg.master_node()
        shared_dir = cfg.cluster()["shared_file_storage_dir"]
        for directory, exists in sorted(info["dirs"].items()):
            code = cv.ENODESHAREDFILESTORAGEPATHUNUSABLE if directory == shared_dir \
                else cv.ENODEFILESTORAGEPATHUNUSABLE
            self._error_if(not exists, code, node["name"], f"storage directory {directory} missing")
        if node["vm_capable"]:
            for bridge in bridges(cfg):
                self._error_if(bridge not in info["bridges"], cv.ENODENET, node["name"],
                               f"bridge {bridge} missing")
        # Ganeti finds stale or stray copies by comparing the files' checksums across nodes
        # (ECLUSTERFILECHECK, about the cluster); these findings name the node, so they
        # carry the node's file code
        self._error_if(info.get("ssconf_master_node") != master["name"], cv.ENODEFILECHECK,
                       node["name"], f"its ssconf names {info.get('ssconf_master_node')!r} as"
                       f" master, not {master['name']} (gnt-cluster redist-conf fixes it)")
        if node["master_candidate"]:
            self._error_if(info.get("config_serial") != cfg.serial_no, cv.ENODEFILECHECK,
                           node["name"], "its configuration copy has serial"
                           f" {info.get('config_serial')}, the master's {cfg.serial_no}"
                           " (gnt-cluster redist-conf fixes it)")
        else:
            self._warn_if(info.get("config_serial") is not None, cv.ENODEFILECHECK,
                          node["name"], "has a configuration copy but is not a master"
                          " candidate")

    def _verify_instances(self, instances: list[dict[str, Any]],
                          domains: dict[str, dict[str, dict[str, Any]] | None],
                          known: set[str]) -> None:
        """The run state of ``instances`` against the nodes' domains (``known``: the names of
        every instance of the cluster, so a domain of another group's is no orphan)."""
        cfg = self.cfg
        where: dict[str, list[str]] = {}
        for uuid, doms in domains.items():
            for name, dom in (doms or {}).items():
                if dom["state"] in RUNNING:
                    where.setdefault(name, []).append(cfg.get("nodes", uuid)["name"])
        outside_policy = policy_checks.violating_instances(cfg, instances)
        for inst in instances:
            # Ganeti's EINSTANCEPOLICY: only a warning
            self._warn_if(inst["name"] in outside_policy, cv.EINSTANCEPOLICY, inst["name"],
                          ", ".join(outside_policy.get(inst["name"], [])))
            node = cfg.get("nodes", inst["primary_node"])
            status = live.instance_status(inst, node, domains.get(node["uuid"]))
            elsewhere = [n for n in where.get(inst["name"], []) if n != node["name"]]
            self._error_if(bool(elsewhere), cv.EINSTANCEWRONGNODE, inst["name"],
                           f"running on {', '.join(elsewhere)}, but its primary node is"
                           f" {node['name']} (gnt-instance migrate --cleanup or failover fixes"
                           " the config)")
            self._error_if(status == "ERROR_down" and not elsewhere, cv.EINSTANCEDOWN,
                           inst["name"], f"instance not running on its primary node {node['name']}")
            # Ganeti does not check this; the code of its other run-state mismatch
            self._error_if(status == "ERROR_up", cv.EINSTANCEDOWN, inst["name"],
                           f"instance running on {node['name']} but marked down")
            self._error_if(status == "ERROR_nodeoffline", cv.EINSTANCEBADNODE, inst["name"],
                           f"instance lives on offline node {node['name']}")
        for name, nodes in sorted(where.items()):
            self._warn_if(name not in known, cv.ENODEORPHANINSTANCE, ", ".join(nodes),
                          f"domain {name} is running but unknown to the cluster")

    def _verify_disks(self, instances: list[dict[str, Any]], nodes: list[dict[str, Any]],
                      infos: dict[str, dict[str, Any] | str],
                      every: list[dict[str, Any]]) -> None:
        """Missing disk files of ``instances`` and orphan files on ``nodes`` (files of any of
        ``every`` instance are no orphans)."""
        cfg = self.cfg
        shared_dir = cfg.cluster()["shared_file_storage_dir"].rstrip("/") + "/"
        used_local: dict[str, set[str]] = {n["uuid"]: set() for n in nodes}
        used_shared: set[str] = set()
        owner: dict[str, str] = {}
        for inst in every:
            if inst["disk_template"] not in (params.DT_FILE, params.DT_SHARED_FILE):
                continue   # only file disks live in the storage directories
            for disk in cfg.instance_disks(inst):
                path = disk["logical_id"][1]
                owner[path] = inst["name"]
                if inst["disk_template"] == params.DT_SHARED_FILE:
                    used_shared.add(path)
                else:
                    used_local.setdefault(inst["primary_node"], set()).add(path)
        mine = {inst["name"] for inst in instances}
        seen_shared: set[str] | None = None
        shared_seen_by = ""
        for node in nodes:
            info = infos.get(node["uuid"])
            if not isinstance(info, dict):
                continue
            files = set(info["files"])
            local = {f for f in files if not f.startswith(shared_dir)}
            if seen_shared is None:
                seen_shared, shared_seen_by = files - local, node["name"]
            used = used_local[node["uuid"]]
            for path in self._failing(used - files, used):
                self._error(cv.EINSTANCEMISSINGDISK, owner[path], f"instance disk {path}"
                            f" missing on node {node['name']}{_missing_disk_fix(owner[path])}")
            for path in self._failing(local - used, local):
                # Ganeti checks only logical volumes; a disk file is this version's volume
                self._warn(cv.ENODEORPHANLV, node["name"], f"orphan disk {path}{_ORPHAN_FIX}")
        if seen_shared is not None:
            ours = {path for path in used_shared if owner[path] in mine}
            for path in self._failing(ours - seen_shared, ours):
                self._error(cv.EINSTANCEMISSINGDISK, owner[path], f"instance disk {path}"
                            f" missing in the shared file storage (as seen from node"
                            f" {shared_seen_by}){_missing_disk_fix(owner[path])}")
            for path in self._failing(seen_shared - used_shared, seen_shared):
                self._warn(cv.ENODEORPHANLV, shared_seen_by, f"orphan disk {path} in the"
                           f" shared file storage{_ORPHAN_FIX}")

    def _verify_n_plus_one(self, nodes: list[dict[str, Any]], instances: list[dict[str, Any]],
                           domains: dict[str, dict[str, dict[str, Any]] | None]) -> None:
        """N+1 memory of ``nodes`` for ``instances``; the secondary nodes of drbd instances
        outside ``nodes`` (another group's) give their room but are not judged."""
        cfg = self.cfg
        secondaries = {inst["uuid"]: nodes_of[0] for inst in instances
                       if inst["disk_template"] in MIRRORED_TEMPLATES
                       and (nodes_of := cfg.instance_secondaries(inst))}
        mine = {n["uuid"] for n in nodes}
        nodes = nodes + [cfg.get("nodes", uuid) for uuid in sorted(set(secondaries.values()))
                         if uuid not in mine]
        infos = rpc.live_info_many(cfg, [n for n in nodes if not n["offline"]])
        free = {uuid: int(info["mfree"]) for uuid, info in infos.items() if info}
        memory = {}
        for inst in instances:
            doms = domains.get(inst["primary_node"]) or {}
            dom = doms.get(inst["name"])
            if dom and dom["state"] in RUNNING and \
                    params.filled_beparams(cfg.cluster(), inst)["auto_balance"]:
                memory[inst["uuid"]] = int(dom["memory_mib"])
        failing = n_plus_one_failures(nodes, instances, free, memory, secondaries)
        checked = [n["name"] for n in nodes if n["uuid"] in mine and n["uuid"] in free]
        for name in self._failing(failing, checked):
            self._error(cv.ENODEN1, name, "not enough memory on the other nodes to take over its"
                        " instances should it fail (N+1)")


_ORPHAN_FIX = (" (no instance uses it: a half-made or half-removed instance left it; delete the"
               " file if it holds nothing needed)")


def _host_key_hint(node: dict[str, Any], error: str) -> str:
    """What to do when ssh refused a node because its host key is not the recorded one."""
    if not knownhosts.key_rejected(error):
        return ""
    return (" (its SSH host key differs from the one recorded in the cluster's known_hosts"
            " file: if the node was reinstalled, 'gnt-node add --readd"
            f" {node['name']}' records its new key)")


def _missing_disk_fix(instance: str) -> str:
    """What to run about an instance whose disk is missing (e.g. its creation was cut short)."""
    return (f" (instance {instance} is incomplete: 'gnt-instance remove --ignore-failures"
            f" {instance}' removes it, or restore the disk from a backup)")

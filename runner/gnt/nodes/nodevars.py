"""What the coordinator tells the roles: the node dict and the instance spec.

The shapes are the contract documented in ``docs/node-primitives.md``; they are built here and
nowhere else.
"""

from __future__ import annotations

from typing import Any

from gnt.config import drbdmap
from gnt.config.store import ConfigStore
from gnt.core import settings
from gnt.nodes import ssh
from gnt.nodes.executor import NodeAccess
from gnt.nodes.ssh import Target
from gnt.opcodes import params


def node_access(store: ConfigStore, node: dict[str, Any]) -> NodeAccess:
    """How the executor reaches ``node`` (the master through the local connection)."""
    nd = node_ndparams(store, node)
    return NodeAccess(name=node["name"], address=node["primary_ip"],
                      local=node["uuid"] == store.cluster()["master_node"],
                      ssh_port=int(nd.get("ssh_port", 22)),
                      interpreter=str(node.get("module_interpreter") or ""))


def node_ndparams(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any]:
    """A node's effective ndparams (cluster < its group < the node)."""
    group = store.data["nodegroups"].get(node.get("group", ""))
    return params.filled_ndparams(store.cluster(), node, group)


def libvirt_uri(node: dict[str, Any]) -> str:
    """The libvirt URI of a node's hypervisor (``libvirt_uri`` on the node, else local)."""
    return str(node.get("libvirt_uri") or settings.DEFAULT_LIBVIRT_URI)


def bridges(store: ConfigStore) -> list[str]:
    """Bridges the cluster's NICs use (default and per instance), to exist on every node."""
    cluster = store.cluster()
    found = set()
    default = params.filled_nicparams(cluster, {})
    if default["mode"] == params.NIC_MODE_BRIDGED and default["link"]:
        found.add(default["link"])
    for inst in store.all("instances"):
        for nic in inst["nics"]:
            filled = params.filled_nicparams(cluster, nic)
            if filled["mode"] == params.NIC_MODE_BRIDGED and filled["link"]:
                found.add(filled["link"])
    return sorted(found)


def node_vars(store: ConfigStore, node: dict[str, Any]) -> dict[str, Any]:
    """The ``gnt_node`` role variable for ``node``."""
    cluster = store.cluster()
    paths = settings.paths()
    return {
        "name": node["name"],
        "libvirt_uri": libvirt_uri(node),
        "file_storage_dir": cluster["file_storage_dir"],
        "shared_file_storage_dir": cluster["shared_file_storage_dir"],
        "os_dir": str(paths.os_dir),
        "os_search_path": cluster.get("os_search_path") or paths.os_search_path,
        "ext_search_path": ext_search_path(store),
        "console_log_dir": str(paths.console_log_dir),
        "os_log_dir": str(paths.log_dir / "os"),
        "bridges": bridges(store),
    }


def disk_path(cluster: dict[str, Any], template: str, instance_name: str, index: int) -> str:
    """Where disk ``index`` of a file/sharedfile instance lives."""
    base = cluster["shared_file_storage_dir"] if template == params.DT_SHARED_FILE \
        else cluster["file_storage_dir"]
    return f"{base}/{instance_name}/disk{index}"


FILE_TEMPLATES = (params.DT_FILE, params.DT_SHARED_FILE)


def device_path(disk: dict[str, Any], node_uuid: str) -> str:
    """Where a disk's data is on node ``node_uuid``: the file of a file disk, ``/dev/VG/LV``
    of a plain one, ``/dev/drbdN`` (that node's minor) of a drbd one."""
    lid = disk["logical_id"]
    if disk["dev_type"] == params.DT_PLAIN:
        return f"/dev/{lid[0]}/{lid[1]}"
    if disk["dev_type"] == params.DT_DRBD8:
        minor = lid[drbdmap.LID_PMINOR] if lid[drbdmap.LID_PNODE] == node_uuid \
            else lid[drbdmap.LID_SMINOR]
        return f"/dev/drbd{minor}"
    return str(lid[1])


def disk_link(instance_name: str, index: int) -> str:
    """The node-local symlink to a drbd disk's device (``/dev/drbdN``, N differs per node):
    the path the domain uses, the same on both nodes, so a live migration needs no change of
    the domain's disks (as Ganeti's instance-disks links)."""
    return str(settings.paths().run_dir / "instance-disks" / f"{instance_name}:{index}")


def ext_search_path(store: ConfigStore) -> list[str]:
    """Where nodes look for ExtStorage providers (the cluster's setting, else ours first,
    then Ganeti's default directory)."""
    return list(store.cluster().get("ext_search_path") or settings.paths().ext_search_path)


def ext_volume(disk: dict[str, Any], instance_name: str, index: int) -> dict[str, Any]:
    """An ext disk as the ``ext_volume`` module takes it: volume name, provider, ExtStorage
    parameters (``params`` without ``provider``), size, the disk's UUID and name, and the
    node-local link the domain uses (the attach script's path can differ per node)."""
    ext_params = {str(k): str(v) for k, v in (disk.get("params") or {}).items()
                  if k != "provider"}
    return {"index": index, "name": str(disk["logical_id"][1]),
            "provider": str(disk["logical_id"][0]), "params": ext_params,
            "size_mib": int(disk["size"]), "uuid": disk["uuid"],
            "cname": disk.get("name") or "", "link": disk_link(instance_name, index)}


def _lv(disk: dict[str, Any]) -> tuple[str, str]:
    """(volume group, LV name) of a plain disk."""
    return str(disk["logical_id"][0]), str(disk["logical_id"][1])


def instance_diskparams(store: ConfigStore, instance: dict[str, Any], template: str
                        ) -> dict[str, Any]:
    """The disk parameters of ``template`` in force for ``instance``: cluster < the node group
    of its primary node."""
    primary = store.data["nodes"].get(instance.get("primary_node", "")) or {}
    group = store.data["nodegroups"].get(primary.get("group", ""))
    return params.filled_diskparams(store.cluster(), group)[template]


def drbd_vars(store: ConfigStore, instance: dict[str, Any], node_uuid: str) -> list[dict[str, Any]]:
    """The ``gnt_drbd`` role variable: node ``node_uuid``'s end of each drbd disk of
    ``instance`` (minor, the data and meta-data volumes, both replication endpoints on the
    nodes' secondary IPs, the port and the disk's shared secret, and the drbd disk parameters
    protocol, stripes and the resync pacing ``sync_params``), in disk order."""
    dp = instance_diskparams(store, instance, params.DT_DRBD8)
    sync = {name.replace("-", "_"): bool(dp[name]) if name == "dynamic-resync" else int(dp[name])
            for name in params.DRBD_SYNC_PARAMS}
    tuning = {"sync_params": sync, "protocol": str(dp["protocol"]),
              "data_stripes": int(dp["data-stripes"]), "meta_stripes": int(dp["meta-stripes"])}
    ends = []
    for index, disk in enumerate(store.instance_disks(instance)):
        if disk.get("dev_type") != params.DT_DRBD8:
            continue
        lid = disk["logical_id"]
        here_is_first = lid[drbdmap.LID_PNODE] == node_uuid
        minor = lid[drbdmap.LID_PMINOR] if here_is_first else lid[drbdmap.LID_SMINOR]
        peer_uuid = lid[drbdmap.LID_SNODE] if here_is_first else lid[drbdmap.LID_PNODE]
        local, peer = store.get("nodes", node_uuid), store.get("nodes", peer_uuid)
        data, meta = disk["children"]
        (data_vg, data_lv), (meta_vg, meta_lv) = _lv(data), _lv(meta)
        ends.append({
            "index": index, "minor": int(minor), "size_mib": int(disk["size"]),
            "port": int(lid[drbdmap.LID_PORT]), "secret": str(lid[drbdmap.LID_SECRET]),
            "local_address": local["secondary_ip"], "peer_address": peer["secondary_ip"],
            "peer_name": peer["name"], "link": disk_link(instance["name"], index),
            "data_vg": data_vg, "data_lv": data_lv, "data_size_mib": int(data["size"]),
            "meta_vg": meta_vg, "meta_lv": meta_lv, "meta_size_mib": int(meta["size"]),
            **tuning})
    return ends


# The names replace-disks gives a drbd end's volumes (Ganeti's): the new volumes until they
# take the configured names, and the old ones renamed aside until the resync has ended.
NEW_VOLUME_SUFFIX = "_new"
REPLACED_VOLUME_INFIX = "_replaced-"
DRBD_VOLUME_KINDS = ("data", "meta")


def drbd_volumes(ends: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The ``gnt_drbd_volumes`` role variable: the data and meta-data volumes of ``ends``
    (:func:`drbd_vars`) as entries of ``lvm_volume``'s ``volumes`` option, each end's data
    volume before its meta-data volume, in disk order: ``create`` (a new meta-data volume is
    wiped: its extents may hold an old device's meta-data), ``remove`` (both) and
    ``remove_meta`` (the meta-data volumes only: a conversion to plain keeps the data)."""
    create: list[dict[str, Any]] = []
    remove: list[dict[str, Any]] = []
    remove_meta: list[dict[str, Any]] = []
    for end in ends:
        for kind in DRBD_VOLUME_KINDS:
            vg, lv = str(end[f"{kind}_vg"]), str(end[f"{kind}_lv"])
            create.append({"vg": vg, "name": lv, "size_mib": int(end[f"{kind}_size_mib"]),
                           "stripes": int(end[f"{kind}_stripes"]), "wipe": kind == "meta"})
            remove.append({"vg": vg, "name": lv, "state": "absent"})
            if kind == "meta":
                remove_meta.append({"vg": vg, "name": lv, "state": "absent"})
    return {"create": create, "remove": remove, "remove_meta": remove_meta}


def drbd_replace_volumes(ends: list[dict[str, Any]], stamp: str
                         ) -> dict[str, list[dict[str, Any]]]:
    """The ``gnt_drbd_replace_volumes`` role variable (replace-disks -p/-s on one node), as
    ``lvm_volume`` ``volumes`` entries in the order of :func:`drbd_volumes`: ``create`` (new
    volumes ``<lv>_new``, the sizes and stripes of the old ones, meta-data wiped), ``swap``
    (every old volume renamed aside to ``<lv>_replaced-<stamp>``, then every new one given
    its configured name: no new name is taken before the old volume has left it) and
    ``remove`` (the renamed-aside volumes, once the peer has resynced the new ones)."""
    if not stamp or not stamp.isalnum():
        raise ValueError(f"replace-disks stamp {stamp!r}: letters and digits only")
    current = drbd_volumes(ends)["create"]
    create = [{**vol, "name": vol["name"] + NEW_VOLUME_SUFFIX} for vol in current]
    aside = [{"vg": vol["vg"], "rename_from": vol["name"],
              "name": f"{vol['name']}{REPLACED_VOLUME_INFIX}{stamp}"} for vol in current]
    into = [{"vg": vol["vg"], "rename_from": vol["name"] + NEW_VOLUME_SUFFIX,
             "name": vol["name"]} for vol in current]
    remove = [{"vg": vol["vg"], "name": vol["name"], "state": "absent"} for vol in aside]
    return {"create": create, "swap": aside + into, "remove": remove}


def console_log(instance_name: str) -> str:
    return str(settings.paths().console_log_dir / f"{instance_name}.log")


def instance_spec(store: ConfigStore, instance: dict[str, Any],
                  memory: int | None = None) -> dict[str, Any]:
    """The ``gnt_instance`` role variable: the instance with every parameter filled."""
    cluster = store.cluster()
    be = params.filled_beparams(cluster, instance)
    disks = []
    for index, disk in enumerate(store.instance_disks(instance)):
        linked = disk["dev_type"] in (params.DT_DRBD8, params.DT_EXT)
        entry = {"index": index, "uuid": disk["uuid"],
                 "path": (disk_link(instance["name"], index) if linked
                          else device_path(disk, instance["primary_node"])),
                 "size_mib": disk["size"], "mode": disk["mode"],
                 "dev_type": disk["dev_type"]}
        if disk["dev_type"] == params.DT_EXT:
            entry["ext"] = ext_volume(disk, instance["name"], index)
        if disk["dev_type"] == params.DT_PLAIN:
            entry["stripes"] = int(instance_diskparams(store, instance, params.DT_PLAIN)["stripes"])
        disks.append(entry)
    nics = []
    for index, nic in enumerate(instance["nics"]):
        filled = params.filled_nicparams(cluster, nic)
        nics.append({"index": index, "uuid": nic["uuid"], "mac": nic["mac"],
                     "ip": nic.get("ip"), "mode": filled["mode"], "link": filled["link"]})
    return {
        "name": instance["name"],
        "uuid": instance["uuid"],
        "os": instance["os"],
        "osparams": {**cluster["osparams"].get(instance["os"].split("+")[0], {}),
                     **instance["osparams"]},
        "hypervisor": instance["hypervisor"],
        "hvparams": params.filled_hvparams(cluster, instance),
        "beparams": be,
        "memory": memory if memory is not None else be["maxmem"],
        "disk_template": instance["disk_template"],
        "disks": disks,
        "nics": nics,
        "console_log": console_log(instance["name"]),
    }


def ssh_target(store: ConfigStore, node: dict[str, Any]) -> Target:
    """How :mod:`gnt.nodes.ssh` reaches ``node`` (in-process shell for the master)."""
    access = node_access(store, node)
    return Target(name=access.name, address=access.address, local=access.local,
                  port=access.ssh_port)


def node_to_node_ssh_args(address: str = "") -> list[str]:
    """``ssh`` options a node uses to reach another node of the cluster: its copy of the
    cluster key pair, and the peer's host key checked strictly against the cluster's
    known_hosts file (the same path on every node), under ``address`` when given (the
    address connected to; callers that leave it out add ``HostKeyAlias`` themselves, as the
    ``instance_disk_copy`` role does)."""
    from gnt.nodes import sshkeys

    return ["-o", f"IdentityFile=~/.ssh/{sshkeys.KEY_NAME}",
            *ssh.host_key_options(address)]


def transfer_peer(store: ConfigStore, node: dict[str, Any], seen_from: dict[str, Any]
                  ) -> dict[str, Any]:
    """How a node primitive running on ``seen_from`` streams data to or from ``node``: the
    ``peer`` dict of ``disk_export``/``disk_import`` (``local`` when both are the same node;
    otherwise SSH as root to the node's secondary IP with the cluster key)."""
    if node["uuid"] == seen_from["uuid"]:
        return {"local": True, "name": node["name"]}
    return {"local": False, "name": node["name"], "address": node["secondary_ip"],
            "port": int(node_ndparams(store, node).get("ssh_port", 22)), "user": "root",
            "ssh_args": node_to_node_ssh_args(node["secondary_ip"])}

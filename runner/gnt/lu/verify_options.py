"""The parts of ``gnt-cluster verify`` its optional opcode fields ask for (Ganeti's
OpClusterVerify): the node group to verify (``group_name``), the assessment of the cluster's
hypervisor parameters (skipped by ``skip_checks: [hvparam_assessment]``) and the clutter in the
nodes' ``authorized_keys`` files (``verify_clutter``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from gnt.core.errors import ECODE_NOENT, OpPrereqError
from gnt.lu import group as groups
from gnt.nodes import rpc
from gnt.opcodes import params

# CPU models QEMU offers as the lowest common denominator: no newer CPU features, so slower
# guests, and none of the CPU flags guests need for their side-channel mitigations.
GENERIC_CPU_MODELS = ("qemu32", "qemu64", "kvm32", "kvm64")
ASSESSMENT_NOTE = ("the hypervisor parameters are described in gnt-instance(8); change the"
                   " cluster's with 'gnt-cluster modify -H kvm:NAME=VALUE'")


def find_group(cfg: Any, name: str) -> dict[str, Any]:
    """The node group named ``name`` (or with that UUID), found as Ganeti does, exactly
    (:func:`gnt.lu.group.find_group`); an unknown one is the prerequisite error of Ganeti's
    verify (ECODE_NOENT)."""
    group = groups.find_group(cfg, name)
    if group is None:
        raise OpPrereqError(f"Node group '{name}' not found", ECODE_NOENT)
    return group


def group_members(cfg: Any, group: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(node UUIDs, instance UUIDs) a verify of ``group`` locks: its nodes, the instances
    whose primary node is one of them, and those instances' secondary nodes (their memory
    counts for N+1)."""
    nodes = {str(n["uuid"]) for n in groups.group_nodes(cfg, group["uuid"])}
    instances = [i for i in cfg.all("instances") if i["primary_node"] in nodes]
    secondaries = {str(uuid) for inst in instances for uuid in cfg.instance_secondaries(inst)}
    return nodes | secondaries, {str(i["uuid"]) for i in instances}


def assess_hvparams(cluster: dict[str, Any]) -> list[str]:
    """Notes about the cluster-level parameters of each enabled hypervisor whose value is
    legal but likely not what a cluster wants (Ganeti's hypervisor parameter assessment:
    they never count as errors). Each note names the parameter and its value."""
    notes: list[str] = []
    for hv in cluster.get("enabled_hypervisors") or []:
        if hv != params.HT_KVM:
            continue
        values = params.filled_hvparams(cluster, {"hypervisor": hv})
        notes += [f"{hv}: {note}" for note in _kvm_notes(values)]
    return notes


def _kvm_notes(values: dict[str, Any]) -> list[str]:
    notes = []
    cpu = values.get("cpu_type", "")
    if not cpu:
        notes.append("cpu_type is empty, so instances get QEMU's generic default CPU model:"
                     " without the host's newer CPU features they run slower and lack the"
                     " CPU flags their side-channel mitigations use; name a model every node"
                     " has")
    elif cpu in GENERIC_CPU_MODELS:
        notes.append(f"cpu_type is the generic model '{cpu}': without the host's newer CPU"
                     " features instances run slower and lack the CPU flags their"
                     " side-channel mitigations use; name a model every node has")
    elif cpu == "host":
        notes.append("cpu_type is 'host': an instance sees its node's CPU, so live migration"
                     " needs nodes with the same CPU model")
    for name, what in (("disk_type", "disks"), ("nic_type", "network cards")):
        if values.get(name, "paravirtual") != "paravirtual":
            notes.append(f"{name} is '{values[name]}': paravirtual (virtio) {what} are the"
                         " fastest")
    vnc = values.get("vnc_bind_address", "")
    if vnc and not _loopback(vnc):
        notes.append(f"vnc_bind_address is '{vnc}': the instances' VNC consoles are open to"
                     " that network without TLS or a password")
    return notes


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def ssh_clutter(cfg: Any, nodes: list[dict[str, Any]]
                ) -> dict[str, dict[str, list[int]] | str]:
    """node UUID -> ``user@host`` -> line numbers of the cluster nodes' users with more than
    one key in root's ``authorized_keys`` there, or the error text of a node that did not
    answer; asked of ``nodes`` in parallel (:func:`gnt.nodes.rpc.ssh_clutter_many`)."""
    return rpc.ssh_clutter_many(cfg, nodes, sorted(node["name"] for node in cfg.all("nodes")))


def clutter_message(owners: dict[str, list[int]]) -> str:
    """The report of one node's clutter (``owners``: ``user@host`` -> line numbers)."""
    entries = "; ".join(f"{owner} on lines {', '.join(map(str, lines))}"
                        for owner, lines in sorted(owners.items()))
    return (f"root's authorized_keys holds more than one key of the same cluster node user:"
            f" {entries} (an old key a failed or repeated operation left: remove the lines"
            " of keys no longer in use)")

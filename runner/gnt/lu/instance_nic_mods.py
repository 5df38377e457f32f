"""``gnt-instance modify --net``: adding, removing and changing an instance's NICs.

Ganeti's container modifications: ``[action, identifier, params]`` items (``add`` at an index
or -1 for the end, ``remove``/``modify`` of the NIC with that index, name or UUID, -1 for the
last) or the older ``[add|remove|index, params]`` form. The NIC list and the network pools
change in one config write (:meth:`NicMods.write`); changes take effect at the next start of
the instance (no hotplug here).
"""

from __future__ import annotations

from typing import Any

from gnt.config.objects import new_uuid
from gnt.core.errors import ECODE_INVAL, ECODE_NOTUNIQUE, ECODE_STATE, OpPrereqError
from gnt.lu import container_mods, instance_nics
from gnt.lu.container_mods import ADD, MODIFY, REMOVE
from gnt.lu.instance_create import _valid_mac, generate_mac
from gnt.lu.instance_nics import IP_POOL, NicNetworks, is_none
from gnt.opcodes import params

MAX_NICS = 8
NIC_MOD_KEYS = ("mac", "ip", "mode", "link", "vlan", "network", "name")
LINK_PARAMS = ("mode", "link", "vlan")


def normalize(mods: list[Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """The modifications as ``(action, identifier, params)``, checked as Ganeti does before
    anything is looked up."""
    result = []
    for action, ident, values in container_mods.normalize(mods, "NIC"):
        unknown = sorted(set(values) - set(NIC_MOD_KEYS))
        if unknown:
            raise OpPrereqError(f"Unknown NIC parameter(s) {', '.join(unknown)} (valid:"
                                f" {', '.join(NIC_MOD_KEYS)})", ECODE_INVAL)
        if action != REMOVE:
            _verify(action, values)
        result.append((action, ident, values))
    return result


def _verify(action: str, values: dict[str, Any]) -> None:
    """Ganeti's checks of one NIC's new values (names ``none`` unset, ip/network rules)."""
    if "name" in values and is_none(values["name"]):
        values["name"] = None
    if "network" in values and is_none(values["network"]):
        values["network"] = None
    instance_nics.check_no_link_with_network(values)
    if action == ADD:
        values.setdefault("mac", "auto")
    if "ip" in values:
        values["ip"] = instance_nics.check_ip_syntax(values["ip"], values.get("network"),
                                                     must_have_network=action == ADD)
    mac = values.get("mac")
    if "mac" in values:
        if mac is None:
            raise OpPrereqError("Cannot unset the NIC MAC address", ECODE_INVAL)
        mac = str(mac).lower()
        if mac not in ("auto", "generate") and not _valid_mac(mac):
            raise OpPrereqError(f"Invalid MAC address '{values['mac']}'", ECODE_INVAL)
        if action == MODIFY and mac == "auto":
            raise OpPrereqError("'auto' is not a valid MAC address when modifying an existing"
                                " NIC", ECODE_INVAL)
        values["mac"] = mac
    link = {key: values[key] for key in LINK_PARAMS if key in values}
    if link:
        params.check_nicparams(link, allow_default=True)


class NicMods:
    """The instance's new NIC list and what changes, computed in check_prereq."""

    def __init__(self, lu: Any, instance: dict[str, Any], mods: list[Any]) -> None:
        self.lu, self.cfg = lu, lu.cfg
        self.instance = instance
        self.mods = normalize(mods)
        self.networks = NicNetworks(lu, lu.op["conflicts_check"])
        self.nics = [dict(nic) for nic in instance.get("nics", [])]
        self.changes: list[list[str]] = []

    def check(self) -> None:
        """Apply the modifications to a copy of the NICs (addresses held for the job)."""
        used = self.cfg.all_macs()
        node_uuid = self.instance["primary_node"]
        for action, ident, values in self.mods:
            idx = container_mods.index(self.nics, ident, action, "NIC")
            if action == REMOVE:
                nic = self.nics.pop(idx)
                self.networks.release_ip(nic.get("network"), nic.get("ip"))
                used.discard(nic.get("mac"))
                self.changes.append([f"nic.{idx}", "remove"])
            elif action == ADD:
                if len(self.nics) >= MAX_NICS:
                    raise OpPrereqError(f"Instance has too many network interfaces"
                                        f" ({len(self.nics)}), cannot add more", ECODE_STATE)
                nic = self._changed({"mac": None, "ip": None, "network": None, "name": None,
                                     "nicparams": {}}, values, used, node_uuid)
                nic["uuid"] = new_uuid()
                self.nics.insert(idx, nic)
                filled = params.fill(params.filled_nicparams(self.cfg.cluster(), {}),
                                     nic["nicparams"])
                self.changes.append([f"nic.{idx}", f"add:mac={nic['mac']},ip={nic['ip']},"
                                     f"mode={filled['mode']},link={filled['link']},"
                                     f"network={values.get('network')}"])
            else:
                old = self.nics[idx]
                self.nics[idx] = new = self._changed(dict(old), values, used, node_uuid)
                self._report_modify(idx, old, new)
        dupe = container_mods.duplicate_name(self.nics)
        if dupe:
            raise OpPrereqError(f"NIC name '{dupe}' already used by another NIC of this"
                                " instance", ECODE_NOTUNIQUE)

    def _changed(self, nic: dict[str, Any], values: dict[str, Any], used: set[str],
                 node_uuid: str) -> dict[str, Any]:
        """``nic`` with ``values`` applied (Ganeti's rules for networks, IPs and MACs)."""
        old_net, old_ip = nic.get("network"), nic.get("ip")
        new_net = old_net
        if "network" in values:
            new_net = (None if values["network"] is None else
                       instance_nics.lookup_network(self.cfg, str(values["network"]))["uuid"])
        link = {key: values[key] for key in LINK_PARAMS if key in values}
        if new_net:
            netparams = instance_nics.group_netparams(self.cfg, new_net, node_uuid)
            if netparams is None:
                name = instance_nics.network_name(self.cfg, new_net)
                raise OpPrereqError(f"No netparams found for the network {name}, probably"
                                    " not connected", ECODE_INVAL)
            nic["nicparams"] = netparams
        else:
            nic["nicparams"] = params.merge_overrides(nic.get("nicparams") or {},
                                                      params.check_nicparams(
                                                          link, allow_default=True))
        filled = params.fill(params.filled_nicparams(self.cfg.cluster(), {}), nic["nicparams"])
        new_ip = values.get("ip", old_ip)
        if filled["mode"] == params.NIC_MODE_ROUTED and new_ip is None and not new_net:
            raise OpPrereqError("Cannot set the NIC IP address to None on a routed NIC if not"
                                " attached to a network", ECODE_INVAL)
        self._set_mac(nic, values, used, old_net, new_net)
        if (new_ip, new_net) != (old_ip, old_net):
            if new_ip == IP_POOL and not new_net:
                raise OpPrereqError("ip=pool, but no network found", ECODE_INVAL)
            if new_ip and new_net:
                net = self.cfg.get("networks", new_net)
                new_ip = self.networks.take_ip(None, net, new_ip)
            elif new_ip:
                self.networks.check_free_ip(new_ip, node_uuid)
            self.networks.release_ip(old_net, old_ip)
        elif old_net and link:
            raise OpPrereqError("Not allowed to change link or mode of a NIC that is"
                                " connected to a network", ECODE_INVAL)
        nic["ip"], nic["network"] = new_ip, new_net
        if "name" in values:
            nic["name"] = values["name"]
        return nic

    def _set_mac(self, nic: dict[str, Any], values: dict[str, Any], used: set[str],
                 old_net: str | None, new_net: str | None) -> None:
        mac = values.get("mac")
        prefix = self.networks.mac_prefix(new_net)
        if mac in ("auto", "generate"):
            used.discard(nic.get("mac"))
            nic["mac"] = generate_mac(prefix, used)
        elif mac is not None:
            if mac != nic.get("mac") and mac in used:
                raise OpPrereqError(f"MAC address '{mac}' already in use in cluster",
                                    ECODE_NOTUNIQUE)
            nic["mac"] = mac
        elif new_net != old_net and prefix != self.networks.mac_prefix(old_net):
            used.discard(nic.get("mac"))
            nic["mac"] = generate_mac(prefix, used)
        used.add(nic["mac"])

    def _report_modify(self, idx: int, old: dict[str, Any], new: dict[str, Any]) -> None:
        for key in ("mac", "ip", "name"):
            if new.get(key) != old.get(key):
                self.changes.append([f"nic.{key}/{idx}", str(new.get(key))])
        if new.get("network") != old.get("network"):
            self.changes.append([f"nic.network/{idx}",
                                 str(instance_nics.network_name(self.cfg, new["network"]))])
        for key, value in sorted((new.get("nicparams") or {}).items()):
            if (old.get("nicparams") or {}).get(key) != value:
                self.changes.append([f"nic.{key}/{idx}", str(value)])

    def write(self) -> None:
        """The new NIC list and the pools' changes, in one config write."""
        nics = self.nics

        def change(obj: dict[str, Any]) -> None:
            obj["nics"] = nics
        with self.cfg.transaction():
            self.cfg.modify("instances", self.instance["uuid"], change)
            instance_nics.write_ip_changes(self.cfg, self.networks.plan)

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: network
short_description: Ensure a network of a gnt.cluster (Ganeti) cluster
description:
  - Creates, changes or removes a network (an IPv4 address pool with its gateway, IPv6 data
    and MAC prefix) and connects it to node groups with their NIC mode and link, through the
    cluster's remote API, as C(gnt-network add/modify/connect/disconnect/remove).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: The network's name.
    type: str
    required: true
  state:
    description:
      - The network exists, or not.
      - V(absent) disconnects it from its groups first; the cluster refuses while instance
        NICs use it.
    type: str
    default: present
    choices: [present, absent]
  network:
    description:
      - The IPv4 range in CIDR form (a /16 to a /30); needed to create the network.
      - It cannot change afterwards (a different value fails).
    type: str
  gateway:
    description: The IPv4 gateway (V(none) removes it).
    type: str
  network6:
    description: The IPv6 network in CIDR form (V(none) removes it).
    type: str
  gateway6:
    description: The IPv6 gateway (V(none) removes it).
    type: str
  mac_prefix:
    description: The MAC prefix of the network's NICs, three octets (V(none) removes it).
    type: str
  reserved_ips:
    description: Addresses that must be reserved outside instances (added when missing).
    type: list
    elements: str
  groups:
    description:
      - Node groups the network must be connected to, with the NIC parameters instances in
        that group use for it. A group connected with other parameters is disconnected and
        connected again (refused by the cluster while instances there use the network).
    type: list
    elements: dict
    suboptions:
      name:
        description: The group.
        type: str
        required: true
      mode:
        description: NIC mode.
        type: str
        default: bridged
        choices: [bridged, routed, openvswitch]
      link:
        description: NIC link (the bridge of V(bridged)).
        type: str
        required: true
      vlan:
        description: VLAN (V(openvswitch) only).
        type: str
        default: ""
  conflicts_check:
    description: Check for addresses of nodes and instances inside the network's range.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Every job runs as a dry run; nothing changes.
  diff_mode:
    support: full
    description: Shows the network's addresses, reservations and group connections before and after.
"""

EXAMPLES = r"""
- name: The service network, on the default group's bridge
  gnt.cluster.network:
    name: services
    network: 198.18.5.0/24
    gateway: 198.18.5.1
    mac_prefix: aa:00:05
    reserved_ips: [198.18.5.2]
    groups:
      - {name: default, mode: bridged, link: br100}
"""

RETURN = r"""
network:
  description: The network as the remote API describes it afterwards (null when absent).
  returned: always
  type: dict
jobs:
  description: Ids of the jobs this run submitted.
  returned: always
  type: list
  elements: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    RapiClient,
    quoted,
    rapi_argument_spec,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_module import (
    JobTracker,
    exit_with_object,
)

SETTABLE = ("gateway", "network6", "gateway6", "mac_prefix")


def _none(value):
    return None if value is None or str(value).lower() == "none" else value


def _reserved(net):
    text = (net or {}).get("external_reservations") or ""
    return sorted(ip.strip() for ip in text.split(",") if ip.strip())


def _connections(net):
    """{group: {mode, link, vlan}} from Ganeti's group_list ([name, mode, link, vlan])."""
    result = {}
    for entry in (net or {}).get("group_list") or []:
        name, mode, link = entry[0], entry[1], entry[2]
        vlan = entry[3] if len(entry) > 3 else ""
        result[name] = {"mode": mode, "link": link, "vlan": "" if vlan in ("-", None) else vlan}
    return result


def _view(net):
    if net is None:
        return {"state": "absent"}
    view = {"state": "present", "network": net.get("network"),
            "reserved_ips": _reserved(net), "groups": _connections(net)}
    for key in SETTABLE:
        view[key] = net.get(key)
    return view


def _wanted_groups(params):
    return dict((g["name"], {"mode": g["mode"], "link": g["link"], "vlan": g["vlan"] or ""})
                for g in params["groups"] or [])


def _planned(before, params):
    """The network as this run would leave it: diff mode's "after" in check mode."""
    if params["state"] == "absent":
        return {"state": "absent"}
    view = _view(before) if before is not None else {
        "state": "present", "network": params["network"], "reserved_ips": [], "groups": {}}
    for key in SETTABLE:
        if params[key] is not None:
            view[key] = _none(params[key])
    view["reserved_ips"] = sorted(set(view["reserved_ips"]) | set(params["reserved_ips"] or []))
    view["groups"] = dict(view["groups"], **_wanted_groups(params))
    return view


def _create(tracker, params):
    if not params["network"]:
        raise ValueError("network (the IPv4 range) is needed to create network %s"
                         % params["name"])
    body = {"network_name": params["name"], "network": params["network"],
            "conflicts_check": params["conflicts_check"]}
    for key in SETTABLE:
        if _none(params[key]) is not None:
            body[key] = params[key]
    if params["reserved_ips"]:
        body["add_reserved_ips"] = params["reserved_ips"]
    tracker.run("POST", "/2/networks", None, body)


def _modify(tracker, path, before, params):
    if params["network"] and params["network"] != before.get("network"):
        raise ValueError("network %s has the range %s; the range cannot change (wanted %s)"
                         % (params["name"], before.get("network"), params["network"]))
    changes = {}
    for key in SETTABLE:
        if params[key] is not None and _none(params[key]) != before.get(key):
            changes[key] = params[key] if _none(params[key]) is not None else "none"
    missing = sorted(set(params["reserved_ips"] or []) - set(_reserved(before)))
    if missing:
        changes["add_reserved_ips"] = missing
    if changes:
        tracker.run("PUT", path + "/modify", None, changes)


def _connect(tracker, path, current, params):
    for group, wanted in sorted(_wanted_groups(params).items()):
        have = current.get(group)
        if have == wanted:
            continue
        if have is not None:
            tracker.run("PUT", path + "/disconnect", None, {"group_name": group})
        tracker.run("PUT", path + "/connect", None, {
            "group_name": group, "network_mode": wanted["mode"],
            "network_link": wanted["link"], "network_vlan": wanted["vlan"],
            "conflicts_check": params["conflicts_check"]})


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            network=dict(type="str"),
            gateway=dict(type="str"),
            network6=dict(type="str"),
            gateway6=dict(type="str"),
            mac_prefix=dict(type="str"),
            reserved_ips=dict(type="list", elements="str"),
            groups=dict(type="list", elements="dict", options=dict(
                name=dict(type="str", required=True),
                mode=dict(type="str", default="bridged",
                          choices=["bridged", "routed", "openvswitch"]),
                link=dict(type="str", required=True),
                vlan=dict(type="str", default=""))),
            conflicts_check=dict(type="bool", default=True)),
        supports_check_mode=True)
    params = module.params
    client = RapiClient.from_module(module)
    tracker = JobTracker(client, module.check_mode)
    path = "/2/networks/%s" % quoted(params["name"])

    def act():
        before = client.get_or_none(path)
        if params["state"] == "absent":
            if before is not None:
                connected = sorted(_connections(before))
                for group in connected:
                    tracker.run("PUT", path + "/disconnect", None, {"group_name": group})
                # a dry run of the removal would see the (still) connected groups
                if not (module.check_mode and connected):
                    tracker.run("DELETE", path)
            return before
        if before is None:
            _create(tracker, params)
            if module.check_mode:    # no network yet for dry runs of the connections
                return before
            current = {}
        else:
            _modify(tracker, path, before, params)
            current = _connections(before)
        _connect(tracker, path, current, params)
        return before

    exit_with_object(module, tracker, client, path, "network", act, _view,
                     lambda before: _planned(before, params))


if __name__ == "__main__":
    main()

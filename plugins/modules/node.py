#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: node
short_description: Ensure a node's role, flags and group in a gnt.cluster (Ganeti) cluster
description:
  - Sets a node's role (regular, master candidate, drained, offline), its master/VM
    capability and its node group, and can empty it (evacuate, or migrate its running
    instances away), through the cluster's remote API, as C(gnt-node modify/evacuate/migrate)
    and C(gnt-group assign-nodes). Adding and removing nodes stays with C(gnt-node add/remove)
    on the master (they need SSH to the node).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: The node's name.
    type: str
    required: true
  role:
    description: The node's role (the master's role is changed by master-failover only).
    type: str
    choices: [regular, master-candidate, drained, offline]
  master_capable:
    description: Whether it may become master candidate.
    type: bool
  vm_capable:
    description: Whether it may run instances.
    type: bool
  group:
    description: The node group it belongs to.
    type: str
  state:
    description:
      - V(present) - as described by the other options.
      - V(evacuated) - no instance has it as primary (they are moved away; a change only if
        there were any).
      - V(migrated) - its running instances are migrated away (a change only if any ran
        there; stopped instances stay, see V(evacuated)).
    type: str
    default: present
    choices: [present, evacuated, migrated]
  iallocator:
    description: Allocator choosing where instances go when emptying it.
    type: str
  target_node:
    description: Node instances go to when emptying it.
    type: str
  force:
    description: Force a role change Ganeti would refuse by default.
    type: bool
    default: false
  auto_promote:
    description: Promote another node when this one stops being a master candidate.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Every job runs as a dry run; nothing changes.
  diff_mode:
    support: full
    description: Shows role, flags, group and primary instances before and after.
"""

EXAMPLES = r"""
- name: Drain a node and move its instances away
  gnt.cluster.node:
    name: node3.example.org
    role: drained
    state: evacuated
    iallocator: hail
"""

RETURN = r"""
node:
  description: The node as the remote API describes it afterwards.
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
    RapiError,
    quoted,
    rapi_argument_spec,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_module import (
    JobTracker,
    fail_on_error,
)


def _view(node, group_name):
    return {"role": node.get("role"), "master_capable": node.get("master_capable"),
            "vm_capable": node.get("vm_capable"), "group": group_name,
            "primary_instances": sorted(node.get("pinst_list") or [])}


def _planned(before, params, running):
    """The node as this run would leave it (``running``: the primary instances a migrate
    moves away): diff mode's "after" in check mode."""
    view = dict(before)
    for key in ("role", "master_capable", "vm_capable", "group"):
        if params[key] is not None:
            view[key] = params[key]
    if params["state"] == "evacuated":
        view["primary_instances"] = []
    else:
        view["primary_instances"] = [i for i in view["primary_instances"] if i not in running]
    return view


def _running_primaries(client, node):
    """The node's primary instances that run: what a node migrate moves (none: no job)."""
    running = []
    for name in node.get("pinst_list") or []:
        instance = client.instance(name)
        if instance is not None and instance.get("oper_state"):
            running.append(name)
    return running


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            name=dict(type="str", required=True),
            role=dict(type="str", choices=["regular", "master-candidate", "drained",
                                           "offline"]),
            master_capable=dict(type="bool"),
            vm_capable=dict(type="bool"),
            group=dict(type="str"),
            state=dict(type="str", default="present",
                       choices=["present", "evacuated", "migrated"]),
            iallocator=dict(type="str"),
            target_node=dict(type="str"),
            force=dict(type="bool", default=False),
            auto_promote=dict(type="bool", default=False)),
        mutually_exclusive=[("iallocator", "target_node")],
        supports_check_mode=True)
    params = module.params
    client = RapiClient.from_module(module)
    tracker = JobTracker(client, module.check_mode)
    path = "/2/nodes/%s" % quoted(params["name"])

    def group_names():
        return dict((g["uuid"], g["name"])
                    for g in client.request("GET", "/2/groups", [("bulk", 1)]))

    def act():
        node = client.get_or_none(path)
        if node is None:
            raise RapiError("Node %s is not in the cluster" % params["name"], 404)
        groups = group_names()
        before = _view(node, groups.get(node.get("group.uuid")))
        if params["group"] and params["group"] != before["group"]:
            tracker.run("PUT", "/2/groups/%s/assign-nodes" % quoted(params["group"]), None,
                        {"nodes": [node["name"]], "force": params["force"]})
        flags = dict((key, params[key]) for key in ("master_capable", "vm_capable")
                     if params[key] is not None and params[key] != node.get(key))
        if flags:
            tracker.run("POST", path + "/modify", None, flags)
        if params["role"] and params["role"] != node.get("role"):
            if node.get("role") == "master":
                raise ValueError("role: %s is the master; move the master role with"
                                 " gnt-cluster master-failover first" % node["name"])
            query = [("force", int(params["force"])),
                     ("auto-promote", int(params["auto_promote"]))]
            tracker.run("PUT", path + "/role", query, params["role"])
        target = {}
        if params["iallocator"]:
            target["iallocator"] = params["iallocator"]
        if params["target_node"]:
            target["remote_node" if params["state"] == "evacuated" else "target_node"] = \
                params["target_node"]
        running = _running_primaries(client, node) if params["state"] == "migrated" else []
        if params["state"] == "evacuated" and node.get("pinst_cnt"):
            tracker.run("POST", path + "/evacuate", None, dict(target, mode="primary-only"))
        elif running:
            tracker.run("POST", path + "/migrate", None, target)
        return before, running

    before, running = fail_on_error(module, tracker, act)
    node = fail_on_error(module, tracker, lambda: client.get_or_none(path))
    after = _view(node, fail_on_error(module, tracker, group_names).get(node.get("group.uuid")))
    result = dict(changed=tracker.changed, node=node, jobs=tracker.jobs)
    if module._diff:
        if module.check_mode:
            after = _planned(before, params, running)
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

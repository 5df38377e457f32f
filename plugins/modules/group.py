#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: group
short_description: Ensure a node group of a gnt.cluster (Ganeti) cluster
description:
  - Creates, changes (allocation policy, node parameters, member nodes) or removes a node
    group through the cluster's remote API, as C(gnt-group add/modify/assign-nodes/remove).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: The group's name.
    type: str
    required: true
  state:
    description: The group exists, or not (it must be empty to go).
    type: str
    default: present
    choices: [present, absent]
  alloc_policy:
    description: Allocation policy.
    type: str
    choices: [preferred, last_resort, unallocable]
  ndparams:
    description: The group's own node parameters (those given must have these values).
    type: dict
  nodes:
    description: Nodes that must be members (moved here from their groups).
    type: list
    elements: str
  force:
    description: Move nodes even if that splits instances across groups.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Every job runs as a dry run; nothing changes.
  diff_mode:
    support: full
    description: Shows the group's policy, parameters and nodes before and after.
"""

EXAMPLES = r"""
- name: A rack of its own
  gnt.cluster.group:
    name: rack2
    alloc_policy: preferred
    nodes: [node4.example.org, node5.example.org]
"""

RETURN = r"""
group:
  description: The group as the remote API describes it afterwards (null when absent).
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


def _view(group):
    if group is None:
        return {"state": "absent"}
    return {"state": "present", "alloc_policy": group.get("alloc_policy"),
            "ndparams": group.get("custom_ndparams") or {},
            "nodes": sorted(group.get("node_list") or [])}


def _planned(before, params):
    """The group as this run would leave it: diff mode's "after" in check mode."""
    if params["state"] == "absent":
        return {"state": "absent"}
    view = _view(before) if before is not None else {
        "state": "present", "alloc_policy": params["alloc_policy"] or "preferred",
        "ndparams": {}, "nodes": []}
    if params["alloc_policy"]:
        view["alloc_policy"] = params["alloc_policy"]
    view["ndparams"] = dict(view["ndparams"], **(params["ndparams"] or {}))
    view["nodes"] = sorted(set(view["nodes"]) | set(params["nodes"] or []))
    return view


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            alloc_policy=dict(type="str", choices=["preferred", "last_resort", "unallocable"]),
            ndparams=dict(type="dict"),
            nodes=dict(type="list", elements="str"),
            force=dict(type="bool", default=False)),
        supports_check_mode=True)
    params = module.params
    client = RapiClient.from_module(module)
    tracker = JobTracker(client, module.check_mode)
    path = "/2/groups/%s" % quoted(params["name"])

    def act():
        before = client.get_or_none(path)
        if params["state"] == "absent":
            if before is not None:
                tracker.run("DELETE", path)
            return before
        if before is None:
            body = {"name": params["name"]}
            if params["alloc_policy"]:
                body["alloc_policy"] = params["alloc_policy"]
            if params["ndparams"]:
                body["ndparams"] = params["ndparams"]
            tracker.run("POST", "/2/groups", None, body)
            current = {"alloc_policy": params["alloc_policy"], "node_list": []}
        else:
            current = before
            changes = {}
            if params["alloc_policy"] and params["alloc_policy"] != before.get("alloc_policy"):
                changes["alloc_policy"] = params["alloc_policy"]
            own = before.get("custom_ndparams") or {}
            diff = dict((k, v) for k, v in (params["ndparams"] or {}).items()
                        if str(own.get(k)) != str(v))
            if diff:
                changes["ndparams"] = diff
            if changes:
                tracker.run("PUT", path + "/modify", None, changes)
        missing = sorted(set(params["nodes"] or []) - set(current.get("node_list") or []))
        if missing:
            tracker.run("PUT", path + "/assign-nodes", None,
                        {"nodes": missing, "force": params["force"]})
        return before

    exit_with_object(module, tracker, client, path, "group", act, _view,
                     lambda before: _planned(before, params))


if __name__ == "__main__":
    main()

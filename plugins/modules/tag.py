#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tag
short_description: Ensure tags on a gnt.cluster (Ganeti) cluster, instance, node or group
description:
  - Adds missing tags (O(state=present)) or removes given ones (O(state=absent)) through
    the cluster's remote API, as C(gnt-* add-tags)/C(remove-tags); other tags stay.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  kind:
    description: What carries the tags.
    type: str
    default: instance
    choices: [cluster, instance, node, group]
  name:
    description: The instance, node or group (not for O(kind=cluster)).
    type: str
  tags:
    description: The tags.
    type: list
    elements: str
    required: true
  state:
    description: The tags are there, or not.
    type: str
    default: present
    choices: [present, absent]
attributes:
  check_mode:
    support: full
    description: The change runs as a dry run; nothing changes.
  diff_mode:
    support: full
    description: Shows the tags before and after.
"""

EXAMPLES = r"""
- name: Mark the cluster
  gnt.cluster.tag:
    kind: cluster
    tags: [env:production]

- name: Drop a tag from an instance
  gnt.cluster.tag:
    name: web1.example.org
    tags: [maintenance]
    state: absent
"""

RETURN = r"""
tags:
  description: The tags after the change (in check mode, as they would be).
  returned: always
  type: list
  elements: str
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
    fail_on_error,
)

PATHS = {"cluster": "/2/tags", "instance": "/2/instances/%s/tags", "node": "/2/nodes/%s/tags",
         "group": "/2/groups/%s/tags"}


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            kind=dict(type="str", default="instance",
                      choices=["cluster", "instance", "node", "group"]),
            name=dict(type="str"),
            tags=dict(type="list", elements="str", required=True),
            state=dict(type="str", default="present", choices=["present", "absent"])),
        required_if=[("kind", "instance", ["name"]), ("kind", "node", ["name"]),
                     ("kind", "group", ["name"])],
        supports_check_mode=True)
    params = module.params
    path = PATHS[params["kind"]]
    if params["kind"] != "cluster":
        path = path % quoted(params["name"])
    tracker = JobTracker(RapiClient.from_module(module), module.check_mode)

    def act():
        before = sorted(tracker.client.request("GET", path))
        wanted = set(params["tags"])
        if params["state"] == "present":
            todo = sorted(wanted - set(before))
            after = sorted(set(before) | wanted)
            if todo:
                tracker.run("PUT", path, [("tag", tag) for tag in todo])
        else:
            todo = sorted(wanted & set(before))
            after = sorted(set(before) - wanted)
            if todo:
                tracker.run("DELETE", path, [("tag", tag) for tag in todo])
        return before, after

    before, after = fail_on_error(module, tracker, act)
    result = dict(changed=tracker.changed, tags=after, jobs=tracker.jobs)
    if module._diff:
        result["diff"] = dict(before={"tags": before}, after={"tags": after})
    module.exit_json(**result)


if __name__ == "__main__":
    main()

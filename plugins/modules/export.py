#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: export
short_description: Back up an instance of a gnt.cluster (Ganeti) cluster, or restore one
description:
  - V(exported) writes an export of the instance (its disks and configuration) to a node,
    as C(gnt-backup export); every run makes a new export, so it always reports a change.
  - V(imported) creates the instance from an export, as C(gnt-backup import), unless an
    instance of that name exists already (then nothing changes).
  - Through the cluster's remote API; listing and removing exports stay with
    C(gnt-backup list/remove) (Ganeti's remote API has no resource for them).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: The instance.
    type: str
    required: true
  state:
    description: Export it, or create it from an export.
    type: str
    default: exported
    choices: [exported, imported]
  node:
    description:
      - For V(exported), the node the export goes to.
      - For V(imported), the node holding the export (C(src_node)).
    type: str
    required: true
  shutdown:
    description: Stop the instance while its disks are copied (V(exported)).
    type: bool
    default: true
  remove_instance:
    description: Remove the instance once exported (V(exported)).
    type: bool
    default: false
  compress:
    description: Compression of the disk dumps (V(exported)).
    type: str
    default: none
    choices: [none, gzip, gzip-fast, gzip-slow, lzop, zstd]
  src_path:
    description: The export's directory name on O(node) (V(imported); default the
      instance's name).
    type: str
  primary_node:
    description: Node of the restored instance (V(imported); else the allocator chooses).
    type: str
  disk_template:
    description: Disk template of the restored instance (V(imported)).
    type: str
    default: file
  start:
    description: Start the restored instance (V(imported)).
    type: bool
    default: false
  name_check:
    description: Resolve the restored instance's name (V(imported)).
    type: bool
  ip_check:
    description: Refuse an address that answers (V(imported)).
    type: bool
attributes:
  check_mode:
    support: full
    description: The job runs as a dry run; nothing changes.
  diff_mode:
    support: full
    description:
      - Shows the instance before and after (as M(gnt.cluster.instance) does) - absent before
        an import, absent after an export with O(remove_instance). The export itself is not
        shown (the remote API lists no exports).
"""

EXAMPLES = r"""
- name: Nightly export of a VM to the backup node
  gnt.cluster.export:
    name: web1.example.org
    node: backup1.example.org
    compress: zstd

- name: Bring it back from that export
  gnt.cluster.export:
    name: web1.example.org
    state: imported
    node: backup1.example.org
    primary_node: node2.example.org
"""

RETURN = r"""
jobs:
  description: Ids of the jobs this run submitted.
  returned: always
  type: list
  elements: int
log:
  description: The jobs' log messages.
  returned: always
  type: list
  elements: str
instance:
  description: The instance afterwards (null if it does not exist).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    RapiClient,
    quoted,
    rapi_argument_spec,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_instance import (
    predicted,
    summary,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_module import (
    JobTracker,
    fail_on_error,
)


def planned(params, before):
    """The instance after this run, for diff mode in check mode (nothing was changed)."""
    if params["state"] == "exported":
        return {"state": "absent"} if params["remove_instance"] else summary(before)
    if before is not None:
        return summary(before)
    return predicted(None, {"state": "present", "start": params["start"], "disks": [],
                            "primary_node": params["primary_node"], "os": None,
                            "disk_template": params["disk_template"]})


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", default="exported", choices=["exported", "imported"]),
            node=dict(type="str", required=True),
            shutdown=dict(type="bool", default=True),
            remove_instance=dict(type="bool", default=False),
            compress=dict(type="str", default="none",
                          choices=["none", "gzip", "gzip-fast", "gzip-slow", "lzop", "zstd"]),
            src_path=dict(type="str"),
            primary_node=dict(type="str"),
            disk_template=dict(type="str", default="file"),
            start=dict(type="bool", default=False),
            name_check=dict(type="bool"),
            ip_check=dict(type="bool")),
        supports_check_mode=True)
    params = module.params
    client = RapiClient.from_module(module)
    tracker = JobTracker(client, module.check_mode)
    name = params["name"]

    found = {}

    def act():
        found["before"] = client.instance(name)
        if params["state"] == "exported":
            tracker.run("PUT", "/2/instances/%s/export" % quoted(name), None, {
                "mode": "local", "destination": params["node"], "shutdown": params["shutdown"],
                "remove_instance": params["remove_instance"], "compress": params["compress"]})
        elif found["before"] is None:
            body = {"__version__": 1, "mode": "import", "name": name,
                    "disk_template": params["disk_template"], "disks": [], "nics": None,
                    "src_node": params["node"], "src_path": params["src_path"] or name,
                    "start": params["start"]}
            for key in ("name_check", "ip_check"):
                if params[key] is not None:
                    body[key] = params[key]
            if params["primary_node"]:
                body["pnode"] = params["primary_node"]
            tracker.run("POST", "/2/instances", None, body)
        return client.instance(name)

    instance = fail_on_error(module, tracker, act)
    result = dict(changed=tracker.changed, jobs=tracker.jobs, log=tracker.log,
                  instance=instance)
    if module._diff:
        after = planned(params, found["before"]) if module.check_mode else summary(instance)
        result["diff"] = dict(before=summary(found["before"]), after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

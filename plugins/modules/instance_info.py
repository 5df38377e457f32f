#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: instance_info
short_description: Describe the instances of a gnt.cluster (Ganeti) cluster
description:
  - Reads one instance, or all, through the cluster's remote API (Ganeti's bulk instance
    fields, live state included). Read-only.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: Only this instance (an empty list when it does not exist).
    type: str
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
"""

EXAMPLES = r"""
- name: Every instance, with its fields
  gnt.cluster.instance_info:
    host: cluster.example.org
    ca_path: /etc/ssl/gnt/rapi.pem
  register: all_instances

- name: One instance
  gnt.cluster.instance_info:
    name: web1.example.org
  register: web1
"""

RETURN = r"""
instances:
  description: The instances, each as the remote API's bulk list describes it
    (C(name), C(status), C(pnode), C(os), C(beparams), C(disk.sizes), C(tags), ...).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    RapiClient,
    RapiError,
    rapi_argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=rapi_argument_spec(name=dict(type="str")),
                           supports_check_mode=True)
    client = RapiClient.from_module(module)
    try:
        if module.params["name"]:
            one = client.instance(module.params["name"])
            instances = [one] if one is not None else []
        else:
            instances = client.request("GET", "/2/instances", [("bulk", 1)])
    except RapiError as err:
        module.fail_json(msg=str(err), status=err.code)
    module.exit_json(changed=False, instances=instances)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_info
short_description: Describe a gnt.cluster (Ganeti) cluster
description:
  - The cluster's configuration (C(gnt-cluster info)), its nodes and node groups, and the
    remote API's version and features, through the remote API. Read-only.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options: {}
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
"""

EXAMPLES = r"""
- name: What the cluster is
  gnt.cluster.cluster_info:
    host: cluster.example.org
    ca_path: /etc/ssl/gnt/rapi.pem
  register: cluster

- name: Its master
  ansible.builtin.debug:
    msg: "{{ cluster.info.master }}"
"""

RETURN = r"""
info:
  description: The cluster's configuration as C(GET /2/info) answers it.
  returned: always
  type: dict
nodes:
  description: The nodes with their fields (C(GET /2/nodes?bulk=1)).
  returned: always
  type: list
  elements: dict
groups:
  description: The node groups with their fields.
  returned: always
  type: list
  elements: dict
version:
  description: The remote API's version.
  returned: always
  type: int
  sample: 2
features:
  description: The remote API's optional features.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    RapiClient,
    RapiError,
    rapi_argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=rapi_argument_spec(), supports_check_mode=True)
    client = RapiClient.from_module(module)
    try:
        result = dict(info=client.request("GET", "/2/info"),
                      nodes=client.request("GET", "/2/nodes", [("bulk", 1)]),
                      groups=client.request("GET", "/2/groups", [("bulk", 1)]),
                      version=client.request("GET", "/version"),
                      features=client.request("GET", "/2/features"))
    except RapiError as err:
        module.fail_json(msg=str(err), status=err.code)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: domain_info
short_description: Report the libvirt domain of an instance on one node
description:
  - Reports the state, memory, vCPUs, console and live XML of an instance's libvirt/QEMU
    domain. A domain that does not exist is reported with RV(state=absent), not as a failure.
  - Read-only; to change a domain use M(gnt.cluster.domain).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
requirements:
  - libvirt Python binding (Debian C(python3-libvirt)) on the node
  - jinja2 (Debian C(python3-jinja2)) on the node, only when O(spec) is given
options:
  name:
    description: Name of the domain (the instance name).
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  spec:
    description:
      - The instance spec, as for M(gnt.cluster.domain). When given, RV(definition_outdated)
        tells whether the persistent definition differs from it.
    type: dict
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: gnt.cluster.domain
"""

EXAMPLES = r"""
- name: Look at an instance's domain
  gnt.cluster.domain_info:
    name: "{{ gnt_instance.name }}"
    uri: "{{ gnt_node.libvirt_uri }}"
  register: gnt_domain_before

- name: Is its definition up to date with the spec?
  gnt.cluster.domain_info:
    name: "{{ gnt_instance.name }}"
    spec: "{{ gnt_instance }}"
  register: gnt_domain_now
"""

RETURN = r"""
name:
  description: Name of the domain.
  returned: always
  type: str
  sample: inst1.example.com
state:
  description: State of the domain (running, shutoff, paused, crashed, absent, ...).
  returned: always
  type: str
  sample: running
id:
  description: libvirt domain id, -1 when not running.
  returned: always
  type: int
memory_mib:
  description: Current memory in MiB as libvirt reports it, 0 when absent.
  returned: always
  type: int
  sample: 128
maxmem_mib:
  description: Maximum memory in MiB, 0 when absent.
  returned: always
  type: int
  sample: 128
vcpus:
  description: Number of virtual CPUs, 0 when absent.
  returned: always
  type: int
persistent:
  description: Whether the domain has a persistent definition.
  returned: always
  type: bool
console:
  description: Serial console of the domain.
  returned: always
  type: dict
  contains:
    pty:
      description: Path of the console pseudo terminal while running, else null.
      type: str
    log:
      description: File the serial console output is appended to, or null.
      type: str
xml:
  description: The live domain XML (the inactive definition when not running), empty when absent.
  returned: always
  type: str
definition_outdated:
  description: The persistent definition differs from O(spec) (or there is none).
  returned: when spec is given
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import DomainSpecError
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    connect,
    describe,
    render,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            spec=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    name, spec = p["name"], p["spec"]
    if spec is not None and spec.get("name", name) != name:
        module.fail_json(msg="domain %s: spec is for instance %s" % (name, spec.get("name")))
    try:
        xml_text = render(dict(spec, name=name)) if spec is not None else None
        conn = connect(p["uri"])
        try:
            result = describe(conn, name, xml_text, with_xml=True)
        finally:
            conn.close()
    except (DomainError, DomainSpecError) as err:
        module.fail_json(msg=str(err), name=name)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

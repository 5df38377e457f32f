#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: node_info
short_description: Report a node's memory, CPUs, hypervisor, storage, domains and bridges
description:
  - Gathers the facts the coordinator needs about one node. Read-only.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
requirements:
  - libvirt Python binding (Debian C(python3-libvirt)) on the node
options:
  uri:
    description: libvirt connection URI of the node's hypervisor.
    type: str
    default: qemu:///system
  storage_dirs:
    description: Directories whose filesystem's total and free space to report.
    type: list
    elements: path
    default: []
notes:
  - Supports check mode (it never changes anything).
"""

EXAMPLES = r"""
- name: Gather node facts
  gnt.cluster.node_info:
    uri: qemu:///system
    storage_dirs: [/srv/gnt/file-storage, /srv/gnt/shared-file-storage]
  register: node
"""

RETURN = r"""
memory_total_mib:
  description: Total memory (MemTotal).
  returned: always
  type: int
  sample: 24105
memory_free_mib:
  description: Memory available for new domains (MemAvailable).
  returned: always
  type: int
cpus:
  description: Number of usable CPUs.
  returned: always
  type: int
hypervisor:
  description: The hypervisor as libvirt reports it.
  returned: always
  type: dict
  contains:
    uri:
      description: Connection URI.
      type: str
    type:
      description: Driver type (QEMU).
      type: str
    version:
      description: QEMU version.
      type: str
      sample: 7.2.22
    libvirt_version:
      description: libvirt version.
      type: str
      sample: 9.0.0
accel_default:
  description:
    - V(kvm) when KVM can run guests here, else V(tcg) (no usable C(/dev/kvm), or C(kvm_pvm)
      which starts domains but cannot run a stock Linux kernel).
  returned: always
  type: str
storage:
  description: Per directory in O(storage_dirs) its filesystem's C(total_mib), C(free_mib)
    and whether it C(exists).
  returned: always
  type: dict
domains:
  description: Every libvirt domain by name, with C(state), C(memory_mib), C(maxmem_mib),
    C(vcpus) and C(id).
  returned: always
  type: dict
bridges:
  description: Names of the Linux bridges present.
  returned: always
  type: list
  elements: str
module_process:
  description:
    - V(warm) when the module ran in the node's warm module interpreter (a fork of a
      long-lived Python with Ansible's module_utils imported), V(fresh) when an interpreter
      was started for it.
  returned: always
  type: str
  sample: warm
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import DomainError
from ansible_collections.gnt.cluster.plugins.module_utils.node_facts import gather


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
            storage_dirs=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        facts = gather(module.params["uri"], module.params["storage_dirs"])
    except (DomainError, OSError) as err:
        module.fail_json(msg="node facts: %s" % err)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: disk_import
short_description: Import dump files onto an instance's disks
description:
  - Runs on the node that holds the instance's (new, already created) disks. For each entry
    of O(disks) it streams the dump file - on this node, or read over SSH from the node at
    O(peer.address) - through the decompressor of O(compression) into the OS
    definition's C(import) script (API 5 arguments or API 10/15/20 environment with
    C(IMPORT_INDEX)/C(IMPORT_DEVICE)) when the instance has an OS, or raw onto the disk
    otherwise (written in place from offset 0, sparse; a dump larger than the disk is an
    error).
  - Stops at the first failing disk and fails, naming the disk, the stage and the cause.
  - Always changes something (it writes the disks); check mode only plans.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  disks:
    description: What to import, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      index:
        description: Index of the instance's disk to write.
        type: int
        required: true
      dump:
        description: Absolute path of the dump file on the source node.
        type: path
        required: true
extends_documentation_fragment:
  - gnt.cluster.disk_transfer
notes:
  - Supports check mode (nothing is written; the plan is returned).
seealso:
  - module: gnt.cluster.disk_export
"""

EXAMPLES = r"""
- name: Import disk 0 of an export on node1
  gnt.cluster.disk_import:
    instance: "{{ gnt_instance }}"
    disks:
      - {index: 0, dump: /srv/gnt/export/inst1.example.com/disk0.dump.zst}
    compression: zstd
    search_path: [/srv/gnt/os]
    peer:
      name: node1.example.com
      address: 192.0.2.11
  register: imported
"""

RETURN = r"""
disks:
  description: One entry per disk tried (the last one failed if the module failed).
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: Index of the disk in the instance.
      type: int
    ok:
      description: Whether the disk was imported.
      type: bool
    dump:
      description: The dump file read.
      type: str
    method:
      description: V(os) (through the OS import script) or V(raw).
      type: str
    bytes:
      description: Bytes written onto the disk (raw method; null otherwise).
      type: int
    duration_s:
      description: Seconds the disk took.
      type: float
    msg:
      description: Why the disk failed (empty when it did not).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.instance_dump import (
    DumpError,
    failure_message,
    import_disks,
    peer_error,
    transfer_argument_spec,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            transfer_argument_spec(),
            disks=dict(type="list", elements="dict", required=True, options=dict(
                index=dict(type="int", required=True),
                dump=dict(type="path", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    p = module.params
    instance = p["instance"]
    name = instance.get("name") or "?"
    error = peer_error(p["peer"], name)
    if error:
        module.fail_json(msg=error, disks=[])
    try:
        results = import_disks(instance, p["disks"], p["compression"], p["peer"],
                               p["search_path"], use_os=p["use_os"], log_dir=p["log_dir"],
                               debug_level=p["debug_level"], timeout=p["timeout"],
                               check_mode=module.check_mode)
    except DumpError as err:
        module.fail_json(msg=str(err), disks=[])
    message = failure_message(name, "import", results)
    if message:
        module.fail_json(msg=message, disks=results, changed=True)
    module.exit_json(changed=bool(results), disks=results)


if __name__ == "__main__":
    main()

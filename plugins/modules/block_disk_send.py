#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: block_disk_send
short_description: Copy block devices (LVM volumes) of an instance into existing devices on another node
description:
  - Runs on the B(source) node. Streams each block device in O(disks) over SSH
    (C(user@target_address), batch mode, no password prompts) into a Python receiver started
    on the target with O(remote_python), which writes it into an B(existing) device there.
    Used to move instances with C(plain) disks, after their volumes were created on the
    target (M(gnt.cluster.lvm_volume)).
  - Every chunk is written, zeros included - new logical volumes are not zeroed.
  - The target device must be at least as large as the source; only the source's size is
    written and compared.
  - Verified - the receiver C(fsync)s the device, drops its cached pages, re-reads it and
    compares the SHA-256 of the source's size with the sender's.
  - Idempotent - a target whose content (over the source's size) equals the source's is
    left alone. Any other content of the target is overwritten.
  - The file disk counterpart is M(gnt.cluster.file_disk_send).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.ssh_copy
options:
  disks:
    description: The devices to copy, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description: Block device on this node (C(/dev/VG/LV)).
        type: path
        required: true
      dst:
        description: Existing block device on the target node (C(/dev/VG/LV)).
        type: path
        required: true
  allowed_vgs:
    description:
      - Volume groups the devices may belong to; every O(disks[].src) and O(disks[].dst)
        must then be C(/dev/VG/LV) with VG in this list.
    type: list
    elements: str
    required: true
notes:
  - Supports check mode (the target is probed, nothing is written).
seealso:
  - module: gnt.cluster.file_disk_send
  - module: gnt.cluster.lvm_volume
"""

EXAMPLES = r"""
- name: Copy the volume of inst1 into its new volume on node3
  gnt.cluster.block_disk_send:
    target_address: 192.0.2.13
    allowed_vgs: [xenvg]
    disks:
      - src: /dev/xenvg/0e5f1c2a-8d3b-4a51-9c57-3f1e2d4c5b6a.disk0
        dst: /dev/xenvg/0e5f1c2a-8d3b-4a51-9c57-3f1e2d4c5b6a.disk0
"""

RETURN = r"""
disks:
  description: One entry per device, in order.
  returned: success
  type: list
  elements: dict
  contains:
    src:
      description: Source device.
      type: str
    dst:
      description: Target device.
      type: str
    size_mib:
      description: Size of the source device in MiB.
      type: float
    checksum:
      description: SHA-256 of the source device's bytes (what C(sha256sum) prints for it);
        null when it was not needed (a copy in check mode).
      type: str
    action:
      description: V(copied), V(skipped) (the target had the same content) or, in check mode,
        V(would_copy).
      type: str
    sent_mib:
      description: Data sent in MiB.
      type: float
    duration_s:
      description: Seconds the copy took (0 when skipped).
      type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.block_send import send_devices
from ansible_collections.gnt.cluster.plugins.module_utils.disk_send import (
    DiskSendError,
    check_copy_args,
    ssh_copy_argument_spec,
    transport_for,
)


def check_args(p):
    """Return an error message for invalid option values, or None."""
    if p["disks"] and not p["allowed_vgs"]:
        return "allowed_vgs must name at least one volume group"
    return check_copy_args(p, "device")


def main():
    module = AnsibleModule(
        argument_spec=ssh_copy_argument_spec(
            allowed_vgs=dict(type="list", elements="str", required=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = check_args(p)
    if error:
        module.fail_json(msg=error)
    try:
        changed, disks = send_devices(transport_for(p), p["disks"], p["allowed_vgs"],
                                      p["timeout"], module.check_mode)
    except DiskSendError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=changed, disks=disks)


if __name__ == "__main__":
    main()

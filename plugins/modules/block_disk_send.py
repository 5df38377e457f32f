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
  target_address:
    description: Address (or host name) of the target node for SSH.
    type: str
    required: true
  target_port:
    description: SSH port of the target node.
    type: int
    default: 22
  target_user:
    description: User to log in as on the target node.
    type: str
    default: root
  ssh_args:
    description: Extra arguments for C(ssh) (for example C(-F) and a configuration file).
    type: list
    elements: str
    default: []
  remote_python:
    description: Python 3 interpreter on the target node that runs the receiver.
    type: str
    default: python3
  timeout:
    description: Seconds allowed for each device (probe and copy each).
    type: int
    default: 3600
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
    Transport,
)


def check_args(p):
    """Return an error message for invalid option values, or None."""
    if not p["disks"]:
        return "disks must list at least one {src, dst}"
    if not p["allowed_vgs"]:
        return "allowed_vgs must name at least one volume group"
    seen = set()
    for disk in p["disks"]:
        for key in ("src", "dst"):
            if not disk[key].startswith("/"):
                return "disk %s path %r is not absolute" % (key, disk[key])
        if disk["dst"] in seen:
            return "target device %s is listed twice in disks" % disk["dst"]
        seen.add(disk["dst"])
    if not 0 < p["target_port"] < 65536:
        return "target_port %d is not a TCP port" % p["target_port"]
    if p["timeout"] <= 0:
        return "timeout must be positive, got %d" % p["timeout"]
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            disks=dict(type="list", elements="dict", required=True,
                       options=dict(src=dict(type="path", required=True),
                                    dst=dict(type="path", required=True))),
            allowed_vgs=dict(type="list", elements="str", required=True),
            target_address=dict(type="str", required=True),
            target_port=dict(type="int", default=22),
            target_user=dict(type="str", default="root"),
            ssh_args=dict(type="list", elements="str", default=[]),
            remote_python=dict(type="str", default="python3"),
            timeout=dict(type="int", default=3600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = check_args(p)
    if error:
        module.fail_json(msg=error)
    transport = Transport(p["target_address"], p["target_port"], p["target_user"],
                          p["ssh_args"], p["remote_python"])
    try:
        changed, disks = send_devices(transport, p["disks"], p["allowed_vgs"], p["timeout"],
                                      module.check_mode)
    except DiskSendError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=changed, disks=disks)


if __name__ == "__main__":
    main()

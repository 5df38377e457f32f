#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_disk_send
short_description: Copy file disks of an instance from this node to another node over SSH
description:
  - Runs on the B(source) node. Streams each disk image file in O(disks) to the target node
    over SSH (C(user@target_address), batch mode, no password prompts) into a Python receiver
    started there with O(remote_python), for moving instances with C(file) disks.
  - Sparse - holes and all-zero 1 MiB chunks are not sent and stay holes on the target.
  - Verified - the receiver writes to C(DST.gnt-part), re-reads it, compares a SHA-256
    checksum of the content with the sender's and only then renames it to C(DST), creating
    the target directory. A C(DST) on the target is always a complete copy.
  - Idempotent - a disk whose target already has the same size and checksum is skipped.
    A target file with other content is refused unless O(force) is set.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.ssh_copy
options:
  disks:
    description: The disks to copy, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      src:
        description: Absolute path of the disk on this node.
        type: path
        required: true
      dst:
        description: Absolute path of the copy on the target node.
        type: path
        required: true
  allowed_dirs:
    description:
      - When given, every O(disks[].src) (here) and O(disks[].dst) (on the target) must
        resolve to a path strictly inside one of these directories (the cluster's file and
        shared-file storage directories).
    type: list
    elements: path
  force:
    description: Overwrite a target file that exists with other content.
    type: bool
    default: false
notes:
  - Supports check mode (the target is probed, nothing is written).
seealso:
  - module: gnt.cluster.file_disk
"""

EXAMPLES = r"""
- name: Copy the disks of inst1 to node3
  gnt.cluster.file_disk_send:
    target_address: 192.0.2.13
    disks:
      - src: /srv/gnt/file-storage/inst1.example.com/disk0
        dst: /srv/gnt/file-storage/inst1.example.com/disk0
    allowed_dirs: [/srv/gnt/file-storage]
"""

RETURN = r"""
disks:
  description: One entry per disk, in order.
  returned: success
  type: list
  elements: dict
  contains:
    src:
      description: Source path.
      type: str
    dst:
      description: Target path.
      type: str
    size_mib:
      description: Apparent size of the disk in MiB.
      type: float
    checksum:
      description: SHA-256 over the non-zero 1 MiB chunks with their offsets, and the size.
      type: str
    action:
      description: V(copied), V(skipped) (the target had the same content) or, in check mode,
        V(would_copy).
      type: str
    sent_mib:
      description: Data sent (non-zero chunks) in MiB.
      type: float
    duration_s:
      description: Seconds the copy took (0 when skipped).
      type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.disk_send import (
    DiskSendError,
    check_copy_args,
    send_disks,
    ssh_copy_argument_spec,
    transport_for,
)


def check_args(p):
    """Return an error message for invalid option values, or None."""
    return check_copy_args(p, "path")


def main():
    module = AnsibleModule(
        argument_spec=ssh_copy_argument_spec(
            allowed_dirs=dict(type="list", elements="path"),
            force=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = check_args(p)
    if error:
        module.fail_json(msg=error)
    try:
        changed, disks = send_disks(transport_for(p), p["disks"], p["allowed_dirs"], p["force"],
                                    p["timeout"], module.check_mode)
    except DiskSendError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=changed, disks=disks)


if __name__ == "__main__":
    main()

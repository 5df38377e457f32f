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
  timeout:
    description: Seconds allowed for each disk (probe and copy each).
    type: int
    default: 3600
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
    Transport,
    send_disks,
)


def check_args(p):
    """Return an error message for invalid option values, or None."""
    if not p["disks"]:
        return "disks must list at least one {src, dst}"
    seen = set()
    for disk in p["disks"]:
        for key in ("src", "dst"):
            if not disk[key].startswith("/"):
                return "disk %s path %r is not absolute" % (key, disk[key])
        if disk["dst"] in seen:
            return "target path %s is listed twice in disks" % disk["dst"]
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
            target_address=dict(type="str", required=True),
            target_port=dict(type="int", default=22),
            target_user=dict(type="str", default="root"),
            ssh_args=dict(type="list", elements="str", default=[]),
            remote_python=dict(type="str", default="python3"),
            allowed_dirs=dict(type="list", elements="path"),
            force=dict(type="bool", default=False),
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
        changed, disks = send_disks(transport, p["disks"], p["allowed_dirs"], p["force"],
                                    p["timeout"], module.check_mode)
    except DiskSendError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=changed, disks=disks)


if __name__ == "__main__":
    main()

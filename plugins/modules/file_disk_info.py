#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_disk_info
short_description: Report a file-backed instance disk (file and sharedfile templates)
description:
  - Reports whether a raw disk image file exists, its apparent and allocated size and, when
    O(size_mib) is given, whether its size differs from that. A missing disk is reported
    with RV(exists=false), not as a failure.
  - The path is resolved (symlinks, C(..)) and refused unless it lies inside one of
    O(allowed_dirs), as for M(gnt.cluster.file_disk).
  - Read-only; to create, grow, move or remove a disk use M(gnt.cluster.file_disk).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  path:
    description: Absolute path of the disk image file.
    type: path
    required: true
  allowed_dirs:
    description:
      - The storage directories disks may live in (the cluster's file and shared-file storage
        directories). O(path) must resolve to a path strictly inside one.
    type: list
    elements: path
    required: true
  size_mib:
    description:
      - The expected size in MiB. When given, RV(size_mismatch) reports whether an existing
        file has another size.
    type: int
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: gnt.cluster.file_disk
"""

EXAMPLES = r"""
- name: Look at an instance's first disk
  gnt.cluster.file_disk_info:
    path: /srv/gnt/file-storage/inst1.example.com/disk0
    size_mib: 1024
    allowed_dirs: [/srv/gnt/file-storage, /srv/gnt/shared-file-storage]
  register: disk0
"""

RETURN = r"""
path:
  description: The resolved path of the disk.
  returned: always
  type: str
  sample: /srv/gnt/file-storage/inst1.example.com/disk0
exists:
  description: Whether the disk file exists.
  returned: always
  type: bool
size_mib:
  description: Apparent size in MiB (rounded up), 0 when absent.
  returned: always
  type: int
  sample: 1024
allocated_mib:
  description: Space actually allocated in MiB (sparse files use less), 0 when absent.
  returned: always
  type: int
  sample: 0
size_mismatch:
  description: The existing file's size differs from O(size_mib) (false without O(size_mib)).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.file_storage import (
    FileStorageError,
    inspect_disk,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            allowed_dirs=dict(type="list", elements="path", required=True),
            size_mib=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["size_mib"] is not None and p["size_mib"] <= 0:
        module.fail_json(msg="disk %s: size_mib must be positive, got %d"
                         % (p["path"], p["size_mib"]))
    try:
        result = inspect_disk(p["path"], p["allowed_dirs"], size_mib=p["size_mib"])
    except FileStorageError as err:
        module.fail_json(msg=str(err), path=p["path"])
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_disk
short_description: Manage file-backed instance disks (file and sharedfile templates)
description:
  - Creates, grows, moves and removes raw disk image files of instances.
  - To only look at a disk, use M(gnt.cluster.file_disk_info).
  - Every path is resolved (symlinks, C(..)) and refused unless it lies inside one of
    O(allowed_dirs), the storage directories configured for the cluster.
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
        directories). O(path) and O(rename_from) must resolve to a path strictly inside one.
    type: list
    elements: path
    required: true
  state:
    description:
      - V(present) creates the file (and its parent directory) when missing.
      - V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  size_mib:
    description:
      - Size of the disk in MiB. Required for O(state=present) unless O(rename_from) is given.
    type: int
  preallocate:
    description:
      - Allocate all blocks with C(posix_fallocate) when creating or growing; otherwise the
        file is sparse (C(ftruncate)).
    type: bool
    default: false
  grow:
    description:
      - When the existing file is smaller than O(size_mib), grow it. When it is larger, fail
        (disks are never shrunk). Without O(grow) a size mismatch is only reported in
        RV(size_mismatch).
    type: bool
    default: false
  rename_from:
    description:
      - With O(state=present), move an existing disk from this path to O(path) (creating the
        parent directory). Nothing happens when O(path) already exists and this path does not.
    type: path
  remove_empty_parent:
    description:
      - After removing the disk (O(state=absent)) or moving it away (O(rename_from)), remove
        its former directory when that is empty and is not one of O(allowed_dirs).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would be done in RV(actions) and changes nothing.
  diff_mode:
    support: full
    description:
      - Shows the disk's path, existence and size in MiB before and after (a rename shows the
        old path before and the new one after; in check mode, the would-be state).
seealso:
  - module: gnt.cluster.file_disk_info
"""

EXAMPLES = r"""
- name: Create a 1 GiB sparse disk
  gnt.cluster.file_disk:
    path: /srv/gnt/file-storage/inst1.example.com/disk0
    size_mib: 1024
    allowed_dirs: [/srv/gnt/file-storage, /srv/gnt/shared-file-storage]

- name: Grow it to 2 GiB
  gnt.cluster.file_disk:
    path: /srv/gnt/file-storage/inst1.example.com/disk0
    size_mib: 2048
    grow: true
    allowed_dirs: [/srv/gnt/file-storage]

- name: Move it after an instance rename
  gnt.cluster.file_disk:
    path: /srv/gnt/file-storage/inst2.example.com/disk0
    rename_from: /srv/gnt/file-storage/inst1.example.com/disk0
    remove_empty_parent: true
    allowed_dirs: [/srv/gnt/file-storage]

- name: Remove it and the empty instance directory
  gnt.cluster.file_disk:
    path: /srv/gnt/file-storage/inst2.example.com/disk0
    state: absent
    remove_empty_parent: true
    allowed_dirs: [/srv/gnt/file-storage]
"""

RETURN = r"""
path:
  description: The resolved path of the disk.
  returned: always
  type: str
  sample: /srv/gnt/file-storage/inst1.example.com/disk0
exists:
  description: Whether the disk file exists (after the change; in check mode, as it would).
  returned: always
  type: bool
size_mib:
  description: Apparent size in MiB (rounded up), 0 when absent (in check mode, as it would be).
  returned: always
  type: int
  sample: 1024
allocated_mib:
  description: Space actually allocated in MiB (sparse files use less), 0 when absent.
  returned: always
  type: int
  sample: 0
size_mismatch:
  description: The existing file's size differs from O(size_mib) and was not changed.
  returned: always
  type: bool
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["created 1024 MiB"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.file_storage import (
    FileStorageError,
    diff_view,
    ensure_absent,
    ensure_present,
    state_before,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            allowed_dirs=dict(type="list", elements="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            size_mib=dict(type="int"),
            preallocate=dict(type="bool", default=False),
            grow=dict(type="bool", default=False),
            rename_from=dict(type="path"),
            remove_empty_parent=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    state = p["state"]
    if p["size_mib"] is not None and p["size_mib"] <= 0:
        module.fail_json(msg="disk %s: size_mib must be positive, got %d"
                         % (p["path"], p["size_mib"]))
    if state == "present" and p["size_mib"] is None and not p["rename_from"]:
        module.fail_json(msg="disk %s: size_mib is required for state=present" % p["path"])
    try:
        before = (state_before(p["path"], p["allowed_dirs"], p["rename_from"])
                  if module._diff else None)
        if state == "absent":
            result = ensure_absent(p["path"], p["allowed_dirs"],
                                   remove_empty_parent=p["remove_empty_parent"],
                                   check_mode=module.check_mode)
        else:
            result = ensure_present(p["path"], p["allowed_dirs"], size_mib=p["size_mib"],
                                    preallocate=p["preallocate"], grow=p["grow"],
                                    rename_from=p["rename_from"],
                                    remove_empty_parent=p["remove_empty_parent"],
                                    check_mode=module.check_mode)
    except FileStorageError as err:
        module.fail_json(msg=str(err), path=p["path"])
    if result.get("size_mismatch"):
        module.warn("disk %s is %d MiB, expected %d MiB (use grow=true to grow it)"
                    % (result["path"], result["size_mib"], p["size_mib"]))
    if before is not None:
        result["diff"] = {"before": before, "after": diff_view(result)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: domain_disk_snapshot
short_description: Crash-consistent snapshot of a running instance's file disks
description:
  - O(state=present) freezes all file disks of the running libvirt/QEMU domain at one point in
    time while the guest keeps running - an external disk-only snapshot without metadata,
    atomic over all disks (C(VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY|ATOMIC|NO_METADATA)). Each
    disk gets a qcow2 overlay C(<disk path><suffix>) that takes the guest's writes; the
    original files (RV(disks[].base)) stay unchanged and can be read, e.g. exported.
  - O(state=absent) commits every overlay back into its base and removes it - an active block
    commit with pivot while the domain runs (libvirt restores the persistent definition to the
    base too), or C(qemu-img commit) when the domain stopped meanwhile; then the persistent
    definition is pointed back at the raw bases. An overlay file lying next to a disk of a
    stopped domain whose definition no longer uses it is committed as well when its backing
    file is the disk and the disk was not written after it.
  - Only C(<disk type='file' device='disk'>) with a source file are handled (no cdroms, block
    or network disks).
  - Idempotent - disks already on their overlay (present) or without overlay (absent) are
    left alone. A stopped domain cannot be snapshotted; an overlay file that is in the way is
    never overwritten - the error names it.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
requirements:
  - libvirt Python binding (Debian C(python3-libvirt)) and C(qemu-img) on the node
options:
  name:
    description: Name of the domain (the instance name).
    type: str
    required: true
  uri:
    description: libvirt URI of the node's libvirtd.
    type: str
    default: qemu:///system
  state:
    description:
      - V(present) - the disks run on overlays and their bases are frozen.
      - V(absent) - the overlays are committed into the bases and removed.
    type: str
    choices: [present, absent]
    default: present
  suffix:
    description: Appended to a disk's path to name its overlay file (same directory).
    type: str
    default: .gnt-snap
  timeout:
    description:
      - Seconds to wait for each disk's block commit (O(state=absent)) to become ready, or for
        C(qemu-img commit); after that the commit is cancelled and the overlay stays in use.
        V(0) waits without limit.
    type: int
    default: 600
notes:
  - Supports check mode (nothing is changed; C(changed) and RV(disks) say what would be).
seealso:
  - module: gnt.cluster.domain
"""

EXAMPLES = r"""
- name: Freeze the disks of a running instance
  gnt.cluster.domain_disk_snapshot:
    name: inst1.example.com
  register: snap

- name: Read the frozen disks (snap.disks[].base) here, then commit the overlays back
  gnt.cluster.domain_disk_snapshot:
    name: inst1.example.com
    state: absent
    timeout: 300
"""

RETURN = r"""
name:
  description: Name of the domain.
  returned: always
  type: str
  sample: inst1.example.com
changed:
  description: Whether a snapshot was taken or overlays were committed (in check mode, would be).
  returned: always
  type: bool
  sample: true
disks:
  description:
    - O(state=present) - every file disk of the domain, on its overlay afterwards.
    - O(state=absent) - every overlay that was (or would be) committed; empty when there was
      nothing to do.
  returned: success
  type: list
  elements: dict
  contains:
    target:
      description: Target device of the disk in the domain.
      type: str
      sample: vda
    base:
      description: The disk's own file; frozen (readable) while the snapshot exists.
      type: str
      sample: /srv/gnt/file-storage/inst1.example.com/disk0
    overlay:
      description: The qcow2 overlay that takes the guest's writes meanwhile.
      type: str
      sample: /srv/gnt/file-storage/inst1.example.com/disk0.gnt-snap
    action:
      description: Only with O(state=absent) - V(committed) (block commit and pivot of the
        running domain) or V(committed_offline) (C(qemu-img commit), domain stopped).
      type: str
      sample: committed
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    connect,
)
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_snapshot import (
    commit_disks,
    snapshot_disks,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            suffix=dict(type="str", default=".gnt-snap"),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] < 0:
        module.fail_json(msg="domain %s: timeout must be >= 0 (0: no limit), got %d"
                         % (p["name"], p["timeout"]), name=p["name"])
    try:
        conn = connect(p["uri"])
        try:
            if p["state"] == "present":
                result = snapshot_disks(conn, p["name"], suffix=p["suffix"],
                                        check_mode=module.check_mode)
            else:
                result = commit_disks(conn, p["name"], suffix=p["suffix"],
                                      timeout=p["timeout"], check_mode=module.check_mode)
        finally:
            conn.close()
    except DomainError as err:
        module.fail_json(msg=str(err), name=p["name"])
    module.exit_json(name=p["name"], **result)


if __name__ == "__main__":
    main()

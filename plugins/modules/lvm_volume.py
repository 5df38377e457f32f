#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: lvm_volume
short_description: Manage an LVM logical volume of an instance disk (plain and drbd templates)
description:
  - Creates, grows, renames, snapshots, tags, activates and removes one logical volume with
    the lvm2 tools, or checks that an existing volume can be adopted by an instance.
  - Names are checked before any command runs (LVM's characters, no leading C(-), no C(/),
    none of LVM's reserved names). Ganeti names volumes C(<disk uuid>.disk<N>) and, under
    DRBD, C(<uuid>.disk<N>_data) and C(<uuid>.disk<N>_meta).
  - Volume groups and physical volumes are reported by M(gnt.cluster.storage_info).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  vg:
    description: The volume group.
    type: str
    required: true
  name:
    description: The logical volume's name.
    type: str
    required: true
  state:
    description:
      - V(present) makes sure the volume exists (created with O(size_mib) when missing).
      - V(absent) removes it; an open (in use) volume is refused.
    type: str
    choices: [present, absent]
    default: present
  size_mib:
    description:
      - Size in MiB. Required to create a volume; with O(snapshot_of), the room of the
        snapshot for changes. An existing volume of another size is only reported
        (RV(size_mismatch)) unless O(grow) is set.
    type: int
  grow:
    description: Grow an existing smaller volume to O(size_mib) (C(lvextend)); a larger one fails.
    type: bool
    default: false
  stripes:
    description: Number of stripes of a new volume (C(lvcreate -i)).
    type: int
    default: 1
  tags:
    description: Tags the volume must have (given at creation, added to an existing volume).
    type: list
    elements: str
    default: []
  wipe:
    description:
      - Fill a newly created volume with zeros (as Ganeti's C(prealloc_wipe_disks)).
        Existing volumes are never wiped.
    type: bool
    default: false
  rename_from:
    description:
      - Rename this volume of O(vg) to O(name) (C(lvrename)). Nothing happens when O(name)
        exists and this one does not.
    type: str
  snapshot_of:
    description:
      - Create O(name) as a copy-on-write snapshot of this volume (C(lvcreate -s)) with
        O(size_mib) of room. An existing snapshot of the same origin is kept.
    type: str
  adopt:
    description:
      - Only check that the existing volume can be adopted by an instance (it exists, is not
        open, not a snapshot and not degraded); its size is returned. Never creates.
    type: bool
    default: false
  active:
    description:
      - V(true) activates the volume (C(lvchange -ay)), V(false) deactivates it (refused
        while open). Unset leaves activation alone.
    type: bool
notes:
  - Supports check mode (only the C(lvs)/C(vgs) reports run) and diff mode (existence and size).
seealso:
  - module: gnt.cluster.storage_info
  - module: gnt.cluster.drbd_device
"""

EXAMPLES = r"""
- name: Create the first disk of a plain instance
  gnt.cluster.lvm_volume:
    vg: xenvg
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0
    size_mib: 10240
    tags: [originstname+inst1.example.com]

- name: Grow it to 20 GiB
  gnt.cluster.lvm_volume:
    vg: xenvg
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0
    size_mib: 20480
    grow: true

- name: Snapshot it for an export
  gnt.cluster.lvm_volume:
    vg: xenvg
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0.snap
    snapshot_of: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0
    size_mib: 1024

- name: Check an existing volume before adopting it
  gnt.cluster.lvm_volume:
    vg: xenvg
    name: old-data
    adopt: true
  register: adopted

- name: Remove a volume
  gnt.cluster.lvm_volume:
    vg: xenvg
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0.snap
    state: absent
"""

RETURN = r"""
name:
  description: The volume's name.
  returned: always
  type: str
path:
  description: Its device path, C(/dev/<vg>/<name>).
  returned: always
  type: str
  sample: /dev/xenvg/6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0
exists:
  description: Whether the volume exists (after the change; in check mode, as it would).
  returned: always
  type: bool
attached:
  description: Whether it is active.
  returned: always
  type: bool
open:
  description: Whether its device is open (in use by QEMU, DRBD, a mount...).
  returned: always
  type: bool
size_mib:
  description: Its size in MiB (0 when absent).
  returned: always
  type: int
vg:
  description: The volume group.
  returned: always
  type: str
attr:
  description: The C(lv_attr) string of C(lvs).
  returned: always
  type: str
  sample: -wi-ao----
tags:
  description: Its tags.
  returned: always
  type: list
  elements: str
origin:
  description: The origin of a snapshot, empty otherwise.
  returned: always
  type: str
devices:
  description: The physical volumes it uses.
  returned: always
  type: list
  elements: str
degraded:
  description: Whether it lost physical volumes (partial or virtual).
  returned: always
  type: bool
size_mismatch:
  description: The existing volume's size differs from O(size_mib) and was not changed.
  returned: always
  type: bool
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["created 10240 MiB"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    StorageError,
    module_runner,
    state_diff,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.lvm import LvmBackend


def _present(backend, p, check):
    """The steps of state=present, in order; each returns an ActionResult."""
    name = p["name"]
    actions = []
    if p["rename_from"]:
        step = backend.rename(p["rename_from"], name, check_mode=check)
    elif p["snapshot_of"]:
        step = backend.snapshot(p["snapshot_of"], name, p["size_mib"], check_mode=check)
    elif p["adopt"]:
        step = ActionResult(state=backend.adopt(name))
    elif p["size_mib"] is None:
        # an existing volume only (to activate, tag...): nothing to create it with
        state = backend.info(name)
        if not state.exists:
            raise StorageError("logical volume %s/%s does not exist: size_mib is required to"
                               " create a volume or snapshot" % (p["vg"], name))
        step = ActionResult(state=state)
    else:
        step = backend.create(name, p["size_mib"], check_mode=check, stripes=p["stripes"],
                              tags=p["tags"], wipe=p["wipe"])
    actions += step.actions
    if check and step.changed:
        return step  # the later steps would look at a volume that does not exist yet
    state = step.state
    if p["size_mib"] is not None and not p["snapshot_of"] and state.size_mib != p["size_mib"]:
        if p["grow"]:
            step = backend.grow(name, p["size_mib"], check_mode=check)
            actions += step.actions
            state = step.state
        else:
            state.details["size_mismatch"] = True
    if p["tags"]:
        step = backend.set_tags(name, add=p["tags"], check_mode=check)
        actions += step.actions
        state.details["tags"] = step.state.details.get("tags", state.details["tags"])
    if p["active"] is not None:
        step = (backend.attach if p["active"] else backend.detach)(name, check_mode=check)
        actions += step.actions
        state.attached = step.state.attached
    return ActionResult(state=state, actions=actions)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            size_mib=dict(type="int"),
            grow=dict(type="bool", default=False),
            stripes=dict(type="int", default=1),
            tags=dict(type="list", elements="str", default=[]),
            wipe=dict(type="bool", default=False),
            rename_from=dict(type="str"),
            snapshot_of=dict(type="str"),
            adopt=dict(type="bool", default=False),
            active=dict(type="bool"),
        ),
        mutually_exclusive=[["rename_from", "snapshot_of", "adopt"]],
        supports_check_mode=True,
    )
    p = module.params
    what = "logical volume %s/%s" % (p["vg"], p["name"])
    if p["size_mib"] is not None and p["size_mib"] <= 0:
        module.fail_json(msg="%s: size_mib must be positive, got %d" % (what, p["size_mib"]))
    if p["state"] == "present" and p["size_mib"] is None and p["snapshot_of"]:
        module.fail_json(msg="%s: size_mib is required to create a volume or snapshot" % what)
    try:
        backend = LvmBackend(module_runner(module), p["vg"])
        before = backend.info(p["name"])
        if p["state"] == "absent":
            outcome = backend.remove(p["name"], check_mode=module.check_mode)
        else:
            outcome = _present(backend, p, module.check_mode)
    except StorageError as err:
        module.fail_json(msg=str(err), name=p["name"], vg=p["vg"])
    result = outcome.as_dict()
    result.setdefault("size_mismatch", False)
    result.pop("snapshot", None)
    if module._diff:
        result["diff"] = state_diff(before, outcome.state)
    if result["size_mismatch"]:
        module.warn("%s is %d MiB, expected %d MiB (use grow=true to grow it)"
                    % (what, result["size_mib"], p["size_mib"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

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
  - With O(volumes), a list of volumes is created, renamed or removed in one call, in order
    (what would be one call per volume); the volumes and free space of each group are read
    once for the whole list.
  - Volume groups and physical volumes are reported by M(gnt.cluster.storage_info).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  vg:
    description: The volume group. Required with O(name).
    type: str
  name:
    description: The logical volume's name. Required unless O(volumes) is given.
    type: str
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
  volumes:
    description:
      - Volumes to create, rename or remove in one call, in the order given; a later entry
        sees what an earlier one did (rename a volume aside, then another one into its name).
        Each entry is done as O(name) would be with the same options, and is as idempotent.
      - The first failing entry fails the call; its message names the volume and the
        command and lists the entries already done before it.
      - Not together with O(name) or the other options of a single volume.
    type: list
    elements: dict
    suboptions:
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
          - V(present) with O(volumes[].size_mib) creates the volume when missing (an
            existing one of another size is reported as C(size_mismatch) in RV(volumes));
            without it, the volume must exist.
          - V(absent) removes it; an open (in use) volume is refused.
        type: str
        choices: [present, absent]
        default: present
      size_mib:
        description: Size in MiB of a new volume.
        type: int
      stripes:
        description: Number of stripes of a new volume (C(lvcreate -i)).
        type: int
        default: 1
      wipe:
        description: Fill a newly created volume with zeros.
        type: bool
        default: false
      rename_from:
        description:
          - Rename this volume to O(volumes[].name) (nothing happens when that exists and this
            one does not). Not with O(volumes[].size_mib).
        type: str
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

- name: Swap a drbd disk's data volume for a new one in one call
  gnt.cluster.lvm_volume:
    volumes:
      - vg: xenvg
        name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_data_replaced
        rename_from: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_data
      - vg: xenvg
        name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_data
        rename_from: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_data_new
"""

RETURN = r"""
name:
  description: The volume's name.
  returned: when O(name) is given
  type: str
path:
  description: Its device path, C(/dev/<vg>/<name>).
  returned: when O(name) is given
  type: str
  sample: /dev/xenvg/6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0
exists:
  description: Whether the volume exists (after the change; in check mode, as it would).
  returned: when O(name) is given
  type: bool
attached:
  description: Whether it is active.
  returned: when O(name) is given
  type: bool
open:
  description: Whether its device is open (in use by QEMU, DRBD, a mount...).
  returned: when O(name) is given
  type: bool
size_mib:
  description: Its size in MiB (0 when absent).
  returned: when O(name) is given
  type: int
vg:
  description: The volume group.
  returned: when O(name) is given
  type: str
attr:
  description: The C(lv_attr) string of C(lvs).
  returned: when O(name) is given
  type: str
  sample: -wi-ao----
tags:
  description: Its tags.
  returned: when O(name) is given
  type: list
  elements: str
origin:
  description: The origin of a snapshot, empty otherwise.
  returned: when O(name) is given
  type: str
devices:
  description: The physical volumes it uses.
  returned: when O(name) is given
  type: list
  elements: str
degraded:
  description: Whether it lost physical volumes (partial or virtual).
  returned: when O(name) is given
  type: bool
size_mismatch:
  description: The existing volume's size differs from O(size_mib) and was not changed.
  returned: when O(name) is given
  type: bool
actions:
  description:
    - What was done (or would be done in check mode).
    - With O(volumes), each line starts with the volume's C(<vg>/<name>).
  returned: always
  type: list
  elements: str
  sample: ["created 10240 MiB"]
volumes:
  description:
    - Per entry of O(volumes), in order, its volume at the end of the call (as it would be,
      in check mode) with the keys of a single volume (RV(name), RV(vg), RV(path),
      RV(exists), RV(size_mib), RV(attached), RV(open), RV(attr), RV(tags)...), C(changed)
      and RV(actions) of its own step, and C(size_mismatch) (an existing volume of another
      size than its O(volumes[].size_mib), left as it is).
  returned: when O(volumes) is given
  type: list
  elements: dict
  sample: [{"name": "vol1", "vg": "xenvg", "exists": true, "size_mib": 128,
            "changed": true, "actions": ["created 128 MiB"], "size_mismatch": false}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    StorageError,
    module_runner,
    state_diff,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.lvm import LvmBackend
from ansible_collections.gnt.cluster.plugins.module_utils.storage.lvm_batch import apply_volumes

SINGLE_OPTIONS = ("name", "vg", "state", "size_mib", "grow", "stripes", "tags", "wipe",
                  "rename_from", "snapshot_of", "adopt", "active")


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


def _many(module, entries):
    """O(volumes): the entries in order, one result (see lvm_batch.apply_volumes)."""
    for entry in entries:
        if entry["size_mib"] is not None and entry["size_mib"] <= 0:
            module.fail_json(msg="logical volume %s/%s: size_mib must be positive, got %d"
                             % (entry["vg"], entry["name"], entry["size_mib"]))
    try:
        result = apply_volumes(module_runner(module), entries, check_mode=module.check_mode)
    except StorageError as err:
        module.fail_json(msg=str(err))
    if not module._diff:
        del result["diff"]
    for entry, item in zip(entries, result["volumes"]):
        if item["size_mismatch"]:
            module.warn("logical volume %s/%s is %d MiB, expected %d MiB (left as it is)"
                        % (entry["vg"], entry["name"], item["size_mib"], entry["size_mib"]))
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vg=dict(type="str"),
            name=dict(type="str"),
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
            volumes=dict(type="list", elements="dict", options=dict(
                vg=dict(type="str", required=True),
                name=dict(type="str", required=True),
                state=dict(type="str", choices=["present", "absent"], default="present"),
                size_mib=dict(type="int"),
                stripes=dict(type="int", default=1),
                wipe=dict(type="bool", default=False),
                rename_from=dict(type="str"),
            )),
        ),
        mutually_exclusive=[["rename_from", "snapshot_of", "adopt"]]
        + [["volumes", option] for option in SINGLE_OPTIONS],
        required_one_of=[["name", "volumes"]],
        required_by={"name": "vg"},
        supports_check_mode=True,
    )
    p = module.params
    if p["volumes"] is not None:
        _many(module, p["volumes"])
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

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: lvm_storage
short_description: Modify or repair a node's LVM storage unit (gnt-node modify-storage, repair-storage)
description:
  - For a physical volume (O(type=lvm-pv)), sets whether new extents may be allocated on it
    (C(pvchange -x)), as C(gnt-node modify-storage --allocatable).
  - For a volume group (O(type=lvm-vg)), removes physical volumes that are missing
    (C(vgreduce --removemissing)), as C(gnt-node repair-storage). As Ganeti's repair, the
    logical volumes that used the missing ones (partial volumes, their data lost with the
    physical volume) are removed too (C(--force)) and named in RV(actions); fails, naming
    the group, when physical volumes are still missing afterwards.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  type:
    description: The kind of storage unit.
    type: str
    choices: [lvm-pv, lvm-vg]
    required: true
  name:
    description: The physical volume's device path, or the volume group's name.
    type: str
    required: true
  allocatable:
    description: With O(type=lvm-pv), whether the physical volume is allocatable.
    type: bool
  repair:
    description: With O(type=lvm-vg), remove missing physical volumes when there are any.
    type: bool
    default: false
notes:
  - Supports check mode.
seealso:
  - module: gnt.cluster.storage_info
"""

EXAMPLES = r"""
- name: Stop allocating on a failing disk
  gnt.cluster.lvm_storage:
    type: lvm-pv
    name: /dev/vdc
    allocatable: false

- name: Repair xenvg after a disk was lost
  gnt.cluster.lvm_storage:
    type: lvm-vg
    name: xenvg
    repair: true
"""

RETURN = r"""
name:
  description: The unit's name.
  returned: always
  type: str
allocatable:
  description: Whether the physical volume is allocatable (after the change).
  returned: when O(type=lvm-pv)
  type: bool
missing_pv_count:
  description: Missing physical volumes of the volume group (after the change).
  returned: when O(type=lvm-vg)
  type: int
removed_lvs:
  description: The logical volumes removed with the missing physical volumes.
  returned: when O(type=lvm-vg) and O(repair=true) removed missing physical volumes
  type: list
  elements: str
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["made not allocatable"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage import lvm
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    DeviceState,
    StorageError,
    module_runner,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            type=dict(type="str", choices=["lvm-pv", "lvm-vg"], required=True),
            name=dict(type="str", required=True),
            allocatable=dict(type="bool"),
            repair=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    runner = module_runner(module)
    if p["type"] == "lvm-pv" and p["repair"]:
        module.fail_json(msg="physical volume %s: repair applies to volume groups" % p["name"])
    if p["type"] == "lvm-vg" and p["allocatable"] is not None:
        module.fail_json(msg="volume group %s: allocatable applies to physical volumes"
                         % p["name"])
    try:
        if p["type"] == "lvm-pv":
            if p["allocatable"] is None:
                rows = [r for r in lvm.list_pvs(runner, [p["name"]]) if r["name"] == p["name"]]
                if not rows:
                    raise StorageError("physical volume %s not found" % p["name"])
                outcome = ActionResult(state=DeviceState(name=p["name"], exists=True,
                                                         details=dict(rows[0])))
            else:
                outcome = lvm.set_pv_allocatable(runner, p["name"], p["allocatable"],
                                                 check_mode=module.check_mode)
        elif p["repair"]:
            outcome = lvm.repair_vg(runner, p["name"], check_mode=module.check_mode)
        else:
            rows = [r for r in lvm.list_vgs(runner, [p["name"]]) if r["name"] == p["name"]]
            if not rows:
                raise StorageError("volume group %s not found" % p["name"])
            outcome = ActionResult(state=DeviceState(name=p["name"], exists=True,
                                                     details=dict(rows[0])))
    except StorageError as err:
        module.fail_json(msg=str(err), name=p["name"])
    result = outcome.as_dict()
    result["name"] = p["name"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()

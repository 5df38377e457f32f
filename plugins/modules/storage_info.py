#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: storage_info
short_description: Report a node's storage (volume groups, physical and logical volumes, DRBD, ExtStorage)
description:
  - What C(gnt-node list-storage), C(gnt-node volumes), C(gnt-node list-drbd) style queries
    and C(gnt-storage diagnose) need from one node, read with C(vgs), C(pvs), C(lvs),
    C(/proc/drbd) and the ExtStorage provider directories.
  - Read-only; to change volumes use M(gnt.cluster.lvm_volume), M(gnt.cluster.lvm_storage),
    M(gnt.cluster.drbd_device) or M(gnt.cluster.ext_volume).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  types:
    description: What to report.
    type: list
    elements: str
    choices: [lvm-vg, lvm-pv, lvm-lv, drbd, ext]
    default: [lvm-vg, lvm-pv]
  vgs:
    description: Only these volume groups (for V(lvm-vg) and V(lvm-lv)); empty for all.
    type: list
    elements: str
    default: []
  ext_search_path:
    description: The ExtStorage search path (for V(ext)).
    type: list
    elements: path
    default: []
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: gnt.cluster.lvm_volume
  - module: gnt.cluster.lvm_storage
"""

EXAMPLES = r"""
- name: Volume groups and physical volumes (gnt-node list-storage)
  gnt.cluster.storage_info:
    types: [lvm-vg, lvm-pv]
  register: storage

- name: Logical volumes of xenvg and the DRBD devices
  gnt.cluster.storage_info:
    types: [lvm-lv, drbd]
    vgs: [xenvg]
"""

RETURN = r"""
vgs:
  description: Volume groups (name, size_mib, free_mib, extent_mib, pv_count, lv_count, missing_pv_count, attr, writable, exported, partial).
  returned: when lvm-vg is asked for
  type: list
  elements: dict
pvs:
  description: Physical volumes (name, vg, size_mib, free_mib, used_mib, attr, allocatable, exported, missing).
  returned: when lvm-pv is asked for
  type: list
  elements: dict
lvs:
  description: Logical volumes (vg, name, path, size_mib, attr, active, open, snapshot, virtual, partial, degraded, origin, tags, devices).
  returned: when lvm-lv is asked for
  type: list
  elements: dict
drbd:
  description:
    - Whether the drbd kernel module is loaded, its version and its minors with their status
      (as M(gnt.cluster.drbd_device) returns it, without configuration).
  returned: when drbd is asked for
  type: dict
ext_providers:
  description: ExtStorage providers on the search path (name, path, valid, error, parameters).
  returned: when ext is asked for
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage import drbd, ext, lvm
from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    StorageError,
    module_runner,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_status import (
    read_proc_drbd,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            types=dict(type="list", elements="str", default=["lvm-vg", "lvm-pv"],
                       choices=["lvm-vg", "lvm-pv", "lvm-lv", "drbd", "ext"]),
            vgs=dict(type="list", elements="str", default=[]),
            ext_search_path=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    runner = module_runner(module)
    result = {}
    try:
        if "lvm-vg" in p["types"]:
            result["vgs"] = lvm.list_vgs(runner, p["vgs"])
        if "lvm-pv" in p["types"]:
            result["pvs"] = lvm.list_pvs(runner)
        if "lvm-lv" in p["types"]:
            result["lvs"] = lvm.list_lvs(runner, p["vgs"])
        if "drbd" in p["types"]:
            result["drbd"] = {"loaded": False, "version": "", "minors": []}
            if drbd.drbd_module_loaded():
                proc = read_proc_drbd()
                result["drbd"] = {"loaded": True, "version": proc.version,
                                  "minors": [proc.minors[m].as_dict()
                                             for m in sorted(proc.minors)]}
        if "ext" in p["types"]:
            result["ext_providers"] = ext.diagnose(p["ext_search_path"])
    except StorageError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

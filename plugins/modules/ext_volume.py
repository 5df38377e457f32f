#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ext_volume
short_description: Manage an ExtStorage volume of an instance disk (ext template)
description:
  - Runs the scripts of a Ganeti ExtStorage provider (C(create), C(attach), C(detach),
    C(remove), C(grow), C(setinfo)) for one volume, with the interface's environment
    (C(VOL_NAME), C(VOL_SIZE), C(VOL_NEW_SIZE), C(VOL_METADATA), C(VOL_CNAME), C(VOL_UUID),
    C(EXTP_<PARAM>)) and nothing else, so existing providers plug in unchanged.
  - The interface has no query script, so whether a volume exists is learnt by attaching it,
    as Ganeti does. So check mode runs no script at all and reports what it would run.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  name:
    description: The volume name (C(VOL_NAME)); Ganeti makes C(<uuid>.ext.disk<N>).
    type: str
    required: true
  provider:
    description: The ExtStorage provider (a directory of that name on O(search_path)).
    type: str
    required: true
  search_path:
    description: The directories providers are looked up in, first match wins.
    type: list
    elements: path
    required: true
  state:
    description:
      - V(present) creates the volume unless attaching it works, then leaves it attached.
      - V(attached) attaches an existing volume (always reported as a change, as the
        interface cannot tell whether it was mapped before).
      - V(detached) runs the detach script (reported as a change).
      - V(absent) detaches and removes the volume unless it cannot be attached (gone).
    type: str
    choices: [present, attached, detached, absent]
    default: present
  size_mib:
    description:
      - Size in MiB to create the volume with (required for O(state=present)); with
        O(grow_to_mib), the volume's current size as the cluster config records it.
    type: int
  grow_to_mib:
    description: Grow the volume from O(size_mib) to this size (C(grow) script).
    type: int
  params:
    description: The ExtStorage parameters (each passed as C(EXTP_<NAME>)); only those in the provider's C(parameters.list).
    type: dict
    default: {}
  cname:
    description: The disk's name (C(VOL_CNAME)).
    type: str
  uuid:
    description: The disk's UUID (C(VOL_UUID)).
    type: str
  metadata:
    description:
      - Metadata handed to the C(setinfo) script when this task creates the volume
        (Ganeti sets C(originstname+<instance>)); sanitized to C(A-Za-z0-9_+.-), 128 characters.
    type: str
notes:
  - Supports check mode (no script runs).
seealso:
  - module: gnt.cluster.storage_info
"""

EXAMPLES = r"""
- name: Create and attach an ext disk
  gnt.cluster.ext_volume:
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.ext.disk0
    provider: filevol
    search_path: [/srv/gnt/extstorage, /usr/share/ganeti/extstorage]
    size_mib: 1024
    params: {dir: /srv/volumes}
    metadata: originstname+inst1.example.com
  register: disk0

- name: Grow it
  gnt.cluster.ext_volume:
    name: 6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.ext.disk0
    provider: filevol
    search_path: [/srv/gnt/extstorage]
    size_mib: 1024
    grow_to_mib: 2048
    params: {dir: /srv/volumes}
"""

RETURN = r"""
name:
  description: The volume name.
  returned: always
  type: str
exists:
  description: Whether the volume exists (as far as attaching it tells).
  returned: always
  type: bool
attached:
  description: Whether it is attached.
  returned: always
  type: bool
path:
  description: The block device (or file) path the attach script printed; null for userspace-only access.
  returned: always
  type: str
  sample: /dev/rbd0
uris:
  description: The C(<hypervisor>:<uri>) lines the attach script printed after the path.
  returned: when attached
  type: list
  elements: str
size_mib:
  description: The size in MiB (of the attached device, or as given).
  returned: always
  type: int
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["created 1024 MiB"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    StorageError,
    module_runner,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.ext import ExtBackend


def _run(backend, p, check):
    name, state = p["name"], p["state"]
    if state == "absent":
        return backend.remove(name, check_mode=check)
    if state == "detached":
        return backend.detach(name, check_mode=check)
    if state == "attached":
        outcome = backend.attach(name, check_mode=check)
    else:
        outcome = backend.create(name, p["size_mib"], check_mode=check)
        if outcome.changed and p["metadata"] is not None:
            outcome.actions += backend.setinfo(name, p["metadata"], check_mode=check).actions
    if p["grow_to_mib"] is not None:
        grown = backend.grow(name, p["grow_to_mib"], check_mode=check,
                             current_mib=p["size_mib"])
        outcome = ActionResult(state=outcome.state, actions=outcome.actions + grown.actions)
        if grown.changed:
            outcome.state.size_mib = p["grow_to_mib"]
    return outcome


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            provider=dict(type="str", required=True),
            search_path=dict(type="list", elements="path", required=True),
            state=dict(type="str", choices=["present", "attached", "detached", "absent"],
                       default="present"),
            size_mib=dict(type="int"),
            grow_to_mib=dict(type="int"),
            params=dict(type="dict", default={}),
            cname=dict(type="str"),
            uuid=dict(type="str"),
            metadata=dict(type="str"),
        ),
        required_if=[["state", "present", ["size_mib"]]],
        required_by={"grow_to_mib": ["size_mib"]},
        supports_check_mode=True,
    )
    p = module.params
    what = "ExtStorage volume %s (provider %s)" % (p["name"], p["provider"])
    for option in ("size_mib", "grow_to_mib"):
        if p[option] is not None and p[option] <= 0:
            module.fail_json(msg="%s: %s must be positive, got %d" % (what, option, p[option]))
    if p["grow_to_mib"] is not None and p["state"] in ("detached", "absent"):
        module.fail_json(msg="%s: grow_to_mib needs state present or attached" % what)
    try:
        backend = ExtBackend(module_runner(module), p["provider"], p["search_path"],
                             params=p["params"], cname=p["cname"], uuid=p["uuid"])
        outcome = _run(backend, p, module.check_mode)
    except StorageError as err:
        module.fail_json(msg=str(err), name=p["name"])
    result = outcome.as_dict()
    result.pop("open", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: boot_bridges
short_description: Make a cluster's Linux bridges again when the node boots
description:
  - Bridges made with C(ip link) are gone after a reboot. On a node booted by systemd, writes
    and enables C(gnt-bridges-ID.service) (ID from O(scope)), a oneshot unit (after
    C(network.target), before libvirt) that makes each bridge of O(bridges) that is missing at
    boot and brings every one of them up.
  - An empty O(bridges) or O(state=absent) removes the unit and its enablement.
  - On a node not booted by systemd (no C(/run/systemd/system)) nothing is written and
    C(skipped_reason) says so.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  scope:
    description:
      - The cluster's OS directory (an absolute path under its C(GNT_ROOT), the same on all its
        nodes); the unit's name is made from it, so clusters under other roots on one machine
        keep a unit each.
    type: path
    required: true
  bridges:
    description: The bridges to make at boot (names of 1-15 characters of C([A-Za-z0-9_.:-])).
    type: list
    elements: str
    default: []
  state:
    description: V(present) writes the unit (removes it when O(bridges) is empty); V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  systemd_dir:
    description: Where unit files go.
    type: path
    default: /etc/systemd/system
attributes:
  check_mode:
    support: full
    description: Reports whether the unit would be written or removed; changes nothing.
  diff_mode:
    support: none
    description: No diff.
notes:
  - A unit already as it would be written (or already absent) reports C(changed=false).
  - After a change to a unit file that was there before (or its removal), C(systemctl
    daemon-reload) is run; its failure is a warning (systemd reads the units again at boot).
    A unit new on the node needs no reload (systemd loads a unit file when first asked for
    it) and gets none.
seealso:
  - module: gnt.cluster.node_info
"""

EXAMPLES = r"""
- name: Make the cluster's bridges again at boot
  gnt.cluster.boot_bridges:
    scope: /srv/gnt/os
    bridges: [gnt-br0]

- name: Forget them
  gnt.cluster.boot_bridges:
    scope: /srv/gnt/os
    state: absent
"""

RETURN = r"""
unit:
  description: The unit file's path.
  returned: always
  type: str
  sample: /etc/systemd/system/gnt-bridges-5d41402abc4b.service
skipped_reason:
  description: Why nothing was done (the node does not run systemd).
  returned: when nothing was done
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.boot_bridges import (
    SYSTEMD_DIR,
    BootBridgesError,
    booted,
    ensure,
    unit_name,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scope=dict(type="path", required=True),
            bridges=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            systemd_dir=dict(type="path", default=SYSTEMD_DIR),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        path = "%s/%s" % (p["systemd_dir"].rstrip("/"), unit_name(p["scope"]))
        if not booted():
            module.exit_json(changed=False, unit=path, skipped_reason=(
                "the node is not booted by systemd (no /run/systemd/system): no boot unit"))
        changed, path, error = ensure(p["scope"], p["bridges"], p["state"], p["systemd_dir"],
                                      module.check_mode)
    except BootBridgesError as err:
        module.fail_json(msg=str(err), scope=p["scope"])
    if error:
        module.warn("systemctl daemon-reload failed (the unit is read at boot): %s" % error)
    module.exit_json(changed=changed, unit=path)


if __name__ == "__main__":
    main()

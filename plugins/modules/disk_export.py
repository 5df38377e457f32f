#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: disk_export
short_description: Export an instance's disks into dump files on this or another node
description:
  - Runs on the node that holds the instance's disks. For each disk in O(disks) it streams
    the disk's data into the file C(diskN.dump[.gz|.lzo|.zst]) in O(dest_dir), with no
    temporary copy - through the OS definition's C(export) script (API 5 arguments or API
    10/15/20 environment with C(EXPORT_INDEX)/C(EXPORT_DEVICE)) when the instance has an OS,
    the raw disk otherwise, then through the compressor of O(compression).
  - O(dest_dir) is on this node (O(peer.local)) or on the node at O(peer.address),
    reached over SSH in batch mode (C(dd) there writes and fsyncs the file).
  - A failing disk does not stop the others. The module fails when any disk failed; the
    result then still lists every disk with C(ok) and C(msg), so a caller can keep the
    disks that were exported.
  - Always changes something (it writes dump files); check mode only plans.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  disks:
    description: Indices of the disks to export; all of the instance's disks when empty.
    type: list
    elements: int
    default: []
  dest_dir:
    description: Absolute directory for the dump files (created if missing).
    type: path
    required: true
extends_documentation_fragment:
  - gnt.cluster.disk_transfer
notes:
  - Supports check mode (nothing is written; the plan is returned).
seealso:
  - module: gnt.cluster.disk_import
"""

EXAMPLES = r"""
- name: Export both disks, zstd-compressed, to node2
  gnt.cluster.disk_export:
    instance: "{{ gnt_instance }}"
    dest_dir: /srv/gnt/export/.inst1.example.com.new-42
    compression: zstd
    search_path: [/srv/gnt/os]
    peer:
      name: node2.example.com
      address: 192.0.2.12
      ssh_args: [-o, IdentityFile=~/.ssh/gnt_cluster_id_ed25519]
  register: exported
"""

RETURN = r"""
disks:
  description: One entry per disk, in the order asked.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: Index of the disk in the instance.
      type: int
    ok:
      description: Whether the disk was exported.
      type: bool
    dump:
      description: File name of the dump in O(dest_dir).
      type: str
    path:
      description: Full path of the dump on the target node.
      type: str
    method:
      description: V(os) (through the OS export script) or V(raw).
      type: str
    bytes:
      description: Size of the dump file as written (null in check mode).
      type: int
    duration_s:
      description: Seconds the disk took.
      type: float
    msg:
      description: Why the disk failed (empty when it did not).
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.instance_dump import (
    DumpError,
    export_disks,
    failure_message,
    peer_error,
    transfer_argument_spec,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            transfer_argument_spec(),
            disks=dict(type="list", elements="int", default=[]),
            dest_dir=dict(type="path", required=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    instance = p["instance"]
    name = instance.get("name") or "?"
    error = peer_error(p["peer"], name)
    if error:
        module.fail_json(msg=error, disks=[])
    indices = p["disks"] or sorted(int(d.get("index", i))
                                   for i, d in enumerate(instance.get("disks") or []))
    try:
        results = export_disks(instance, indices, p["dest_dir"], p["compression"],
                               p["peer"], p["search_path"], use_os=p["use_os"],
                               log_dir=p["log_dir"], debug_level=p["debug_level"],
                               timeout=p["timeout"], check_mode=module.check_mode)
    except DumpError as err:
        module.fail_json(msg=str(err), disks=[])
    message = failure_message(name, "export", results)
    if message:
        module.fail_json(msg=message, disks=results, changed=True)
    module.exit_json(changed=bool(results), disks=results)


if __name__ == "__main__":
    main()

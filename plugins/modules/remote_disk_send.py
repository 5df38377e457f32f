#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: remote_disk_send
short_description: Send an instance's disks to another cluster over TLS (remote export)
description:
  - Runs on the instance's primary node (move-instance's export). Streams every disk of
    O(disks), in parallel, through the OS export script (the raw disk without an OS) and the
    compressor to its destination (host, port), TLS with this move's key (in O(key_dir))
    trusting only O(peer_ca), the disk's magic sent first.
  - A failing disk does not stop the others. The module fails when any disk failed; the result
    then still lists every disk with C(ok) and C(msg).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  instance:
    description: The instance spec (its disks in index order, its OS).
    type: dict
    required: true
  disks:
    description: Where each disk goes (checked against the cluster domain secret by the
      coordinator).
    type: list
    elements: dict
    required: true
    suboptions:
      index: {description: Disk index., type: int, required: true}
      host: {description: Destination address., type: str, required: true}
      port: {description: Destination port., type: int, required: true}
      magic: {description: The disk's magic value (never logged)., type: str, required: true}
  key_dir:
    description: Directory of this move's X509 key and certificate (files C(key), C(cert)).
    type: path
    required: true
  peer_ca:
    description: The destination node's certificate (PEM), the only one trusted.
    type: str
    required: true
  compression:
    description: Compression of the stream.
    type: str
    default: none
    choices: [none, gzip, gzip-fast, gzip-slow, lzop, zstd]
  search_path:
    description: Directories searched for OS definitions.
    type: list
    elements: path
    default: []
  use_os:
    description: Use the OS export script when the instance has an OS.
    type: bool
    default: true
  log_dir:
    description: Directory of the OS scripts' logs.
    type: path
  timeout:
    description: Seconds to keep trying to connect, and the longest silence of a stream.
    type: int
    default: 300
notes:
  - No check mode.
"""

EXAMPLES = r"""
- name: Send the disks to the destination cluster
  gnt.cluster.remote_disk_send:
    instance: "{{ gnt_instance }}"
    disks: [{index: 0, host: 192.0.2.21, port: 40411, magic: "{{ magic0 }}"}]
    key_dir: /var/run/gnt/crypto/x509-20261204083000-abc
    peer_ca: "{{ dest_cert }}"
"""

RETURN = r"""
disks:
  description: One result per disk.
  returned: always
  type: list
  elements: dict
  contains:
    index: {description: Disk index., type: int}
    ok: {description: Whether the receiver confirmed every byte., type: bool}
    method: {description: V(os) or V(raw)., type: str}
    duration_s: {description: Seconds the disk took., type: float}
    msg: {description: Why the disk failed (empty when it did not)., type: str}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils import remote_disks as rd
from ansible_collections.gnt.cluster.plugins.module_utils.disk_stream import StreamError
from ansible_collections.gnt.cluster.plugins.module_utils.instance_dump import DumpError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            instance=dict(type="dict", required=True),
            disks=dict(type="list", elements="dict", required=True, options=dict(
                index=dict(type="int", required=True),
                host=dict(type="str", required=True),
                port=dict(type="int", required=True),
                magic=dict(type="str", required=True, no_log=True),
            )),
            key_dir=dict(type="path", required=True),
            peer_ca=dict(type="str", required=True),
            compression=dict(type="str", default="none",
                             choices=["none", "gzip", "gzip-fast", "gzip-slow", "lzop", "zstd"]),
            search_path=dict(type="list", elements="path", default=[]),
            use_os=dict(type="bool", default=True),
            log_dir=dict(type="path"),
            timeout=dict(type="int", default=300),
        ),
    )
    p = module.params
    name = p["instance"].get("name") or "?"
    try:
        results = rd.send_disks(p["instance"], p["disks"], p["key_dir"], p["peer_ca"],
                                compression=p["compression"], search_path=p["search_path"],
                                use_os=p["use_os"], log_dir=p["log_dir"], timeout=p["timeout"])
    except (rd.RemoteDiskError, DumpError, StreamError, OSError) as err:
        module.fail_json(msg="instance %s: %s" % (name, err), disks=[])
    failed = [entry["msg"] for entry in results if not entry["ok"]]
    if failed:
        module.fail_json(msg="instance %s: %d of %d disk(s) not sent: %s"
                         % (name, len(failed), len(results), "; ".join(failed)),
                         disks=results, changed=True)
    module.exit_json(changed=bool(results), disks=results)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: remote_disk_receive
short_description: Receive an instance's disks from another cluster over TLS (remote import)
description:
  - Runs on the primary node of an instance being imported from another cluster
    (move-instance). With O(state=listening) it starts one detached receiver per disk - TLS
    with this move's key (in O(key_dir)) trusting only O(peer_ca), the magic of O(magics)
    checked before a byte is written, then the decompressor and the OS import script (or the
    disk written in place without an OS) - and returns the ports once all listen.
  - O(state=finished) waits until every receiver ended and reports each disk; it fails when
    a disk failed. O(state=absent) stops the receivers (a failed or abandoned import).
  - The receivers' state lives in O(key_dir)/receive (private); it is removed at the end.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  state:
    description: Start the receivers, wait for them, or stop them.
    type: str
    choices: [listening, finished, absent]
    default: listening
  instance:
    description: The instance spec (its disks in index order, its OS).
    type: dict
    required: true
  key_dir:
    description: Directory of this move's X509 key and certificate (files C(key), C(cert)).
    type: path
    required: true
  peer_ca:
    description: The source node's certificate (PEM), the only one trusted.
    type: str
  magics:
    description: One magic value per disk, in index order (state V(listening)).
    type: list
    elements: str
    default: []
  bind_address:
    description: Address the receivers listen on (this node's primary address).
    type: str
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
    description: Use the OS import script when the instance has an OS.
    type: bool
    default: true
  log_dir:
    description: Directory of the OS scripts' logs.
    type: path
  timeout:
    description: Seconds a receiver waits for its sender, and the longest silence of a stream;
      with V(finished), seconds to wait for all receivers.
    type: int
    default: 300
  wait:
    description: With V(finished), return after this many seconds even if receivers still run
      (then C(done) is false and C(received) tells the bytes so far); 0 waits until they end.
    type: int
    default: 0
notes:
  - No check mode (the receivers are processes that outlive the task).
"""

EXAMPLES = r"""
- name: Listen for the disks of a moved instance
  gnt.cluster.remote_disk_receive:
    instance: "{{ gnt_instance }}"
    key_dir: /var/run/gnt/crypto/x509-20261204083000-abc
    peer_ca: "{{ source_cert }}"
    magics: "{{ magics }}"
    bind_address: 192.0.2.11
  register: listening
"""

RETURN = r"""
done:
  description: With V(finished), whether every receiver ended.
  returned: always
  type: bool
received:
  description: With V(finished), the bytes each disk's receiver got so far (null before its
    sender connected).
  returned: always
  type: list
  elements: int
disks:
  description: With V(listening), C(index) and C(port) per disk; with V(finished), one result
    per disk (C(index), C(ok), C(method), C(bytes), C(duration_s), C(msg)).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils import remote_disks as rd
from ansible_collections.gnt.cluster.plugins.module_utils.disk_stream import StreamError
from ansible_collections.gnt.cluster.plugins.module_utils.instance_dump import DumpError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            state=dict(type="str", default="listening",
                       choices=["listening", "finished", "absent"]),
            instance=dict(type="dict", required=True),
            key_dir=dict(type="path", required=True),
            peer_ca=dict(type="str"),
            magics=dict(type="list", elements="str", default=[], no_log=True),
            bind_address=dict(type="str"),
            compression=dict(type="str", default="none",
                             choices=["none", "gzip", "gzip-fast", "gzip-slow", "lzop", "zstd"]),
            search_path=dict(type="list", elements="path", default=[]),
            use_os=dict(type="bool", default=True),
            log_dir=dict(type="path"),
            timeout=dict(type="int", default=300),
            wait=dict(type="int", default=0),
        ),
        required_if=[("state", "listening", ("peer_ca", "bind_address"))],
    )
    p = module.params
    name = p["instance"].get("name") or "?"
    try:
        if p["state"] == "absent":
            module.exit_json(changed=rd.stop_receivers(p["key_dir"]), disks=[])
        if p["state"] == "finished":
            count = len(p["instance"].get("disks") or [])
            results = rd.wait_receivers(p["key_dir"], count, p["timeout"],
                                        budget=p["wait"] or None)
            if results is None:
                module.exit_json(changed=False, done=False, disks=[],
                                 received=rd.received(p["key_dir"], count))
            failed = [entry["msg"] for entry in results if not entry["ok"]]
            if failed:
                module.fail_json(msg="instance %s: %d of %d disk(s) not received: %s"
                                 % (name, len(failed), len(results), "; ".join(failed)),
                                 disks=results, changed=True)
            module.exit_json(changed=True, done=True, disks=results,
                             received=[entry.get("bytes") for entry in results])
        changed, disks = rd.start_receivers(
            p["instance"], p["magics"], p["key_dir"], p["peer_ca"], p["bind_address"],
            compression=p["compression"], search_path=p["search_path"], use_os=p["use_os"],
            log_dir=p["log_dir"], timeout=p["timeout"])
    except (rd.RemoteDiskError, DumpError, StreamError, OSError) as err:
        if p["state"] == "listening":
            rd.stop_receivers(p["key_dir"])
        module.fail_json(msg="instance %s: %s" % (name, err), disks=[])
    module.exit_json(changed=changed, disks=disks)


if __name__ == "__main__":
    main()

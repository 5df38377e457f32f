#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: drbd_device
short_description: Manage a DRBD 8.4 device of an instance disk (drbd template)
description:
  - Brings one DRBD 8.4 device (C(/dev/drbd<minor>), resource C(resource<minor>)) to the
    wanted state with C(drbdsetup) and C(drbdmeta), as Ganeti does; returns its
    configuration and sync status from C(drbdsetup show) and C(/proc/drbd).
  - The data and meta-data volumes are made by M(gnt.cluster.lvm_volume) first; the meta-data
    volume must have at least 128 MiB.
  - Minors and ports are allocated by the coordinator; this module only uses them.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  minor:
    description: The DRBD minor (0-255).
    type: int
    required: true
  state:
    description:
      - V(up) configures the device (local disk when O(data_dev) is given, network when
        O(peer_address) is given), leaving its role alone.
      - V(primary) and V(secondary) do the same, then set the role.
      - V(disconnected) drops the network (the device goes StandAlone, its disk stays).
      - V(detached) detaches the local disk (the device goes Diskless).
      - V(down) tears the device down (C(drbdsetup down)).
    type: str
    choices: [up, primary, secondary, disconnected, detached, down]
    default: up
  data_dev:
    description: The data volume, e.g. C(/dev/xenvg/<uuid>.disk0_data).
    type: path
  meta_dev:
    description: The meta-data volume (at least 128 MiB), e.g. C(/dev/xenvg/<uuid>.disk0_meta).
    type: path
  size_mib:
    description: The size the device exposes (C(attach --size)); unset uses the whole data volume.
    type: int
  create_metadata:
    description:
      - Write fresh DRBD meta-data on O(meta_dev) first, unless valid meta-data is already
        there (a new device). Refused while the minor is configured.
    type: bool
    default: false
  local_address:
    description: This node's replication address (IPv4 or IPv6).
    type: str
  local_port:
    description: This node's replication port.
    type: int
  peer_address:
    description: The peer node's replication address.
    type: str
  peer_port:
    description: The peer node's replication port.
    type: int
  secret:
    description: The shared secret of the connection (cluster's DRBD secret), 1-64 printable characters.
    type: str
  hmac_alg:
    description: The C(cram-hmac-alg) of the peer authentication.
    type: str
    choices: [md5, sha1, sha256, sha512]
    default: md5
  protocol:
    description: The replication protocol.
    type: str
    choices: [A, B, C]
    default: C
  dual_primary:
    description:
      - Allow both nodes to be primary (only during a live migration); switched on a
        connected device without reconnecting.
    type: bool
    default: false
  sync_params:
    description:
      - How the device paces its resyncs (Ganeti's drbd sync disk parameters), set with the
        local disk's C(drbdsetup attach) and, on an attached disk, whenever the kernel's
        values differ (C(drbdsetup disk-options)).
      - With O(sync_params.dynamic_resync), DRBD's dynamic controller with the C(c_*) values;
        without it, the fixed O(sync_params.resync_rate) (with C(c-plan-ahead 0), as DRBD 8.4
        otherwise keeps its controller on and ignores that rate).
    type: dict
    default: {}
    suboptions:
      dynamic_resync:
        description: Use DRBD's dynamic resync controller (C(dynamic-resync)).
        type: bool
        default: false
      resync_rate:
        description: The fixed resync rate in KiB/s (C(resync-rate)).
        type: int
        default: 61440
      c_plan_ahead:
        description: The controller's planning horizon in tenths of a second (C(c-plan-ahead)); not 0 with O(sync_params.dynamic_resync).
        type: int
        default: 20
      c_fill_target:
        description: The controller's fill target in 512-byte sectors (C(c-fill-target)).
        type: int
        default: 0
      c_delay_target:
        description: The controller's delay target in tenths of a second (C(c-delay-target)).
        type: int
        default: 1
      c_max_rate:
        description: The controller's highest rate in KiB/s (C(c-max-rate)).
        type: int
        default: 61440
      c_min_rate:
        description: The controller's lowest rate in KiB/s (C(c-min-rate)).
        type: int
        default: 4096
  force_primary:
    description:
      - With O(state=primary), force the role even though no node has up-to-date data (the
        first primary of a new device, or failover with C(--ignore-consistency)).
    type: bool
    default: false
  usermode_helper:
    description:
      - The usermode helper the drbd kernel module is loaded with when it is not loaded yet
        (the cluster's C(drbd_usermode_helper); Ganeti's default C(/bin/true)).
    type: str
    default: /bin/true
  wait_sync:
    description:
      - With O(state=up)/V(primary)/V(secondary), wait until both disks are up to date
        (Ganeti's wait for sync), reading C(/proc/drbd) twice a second; fails when the device
        stays degraded without resyncing for a minute, or after O(wait_timeout). Not in check
        mode.
    type: bool
    default: false
  wait_timeout:
    description: Seconds O(wait_sync) waits at most.
    type: int
    default: 3600
  resize:
    description:
      - With O(state=up)/V(primary)/V(secondary), let the device grow into its grown data
        volume (C(drbdsetup resize), to O(size_mib) when given). Always reported as a change.
    type: bool
    default: false
  activate_volumes:
    description:
      - With O(state=up)/V(primary)/V(secondary), first activate O(data_dev) and O(meta_dev)
        (C(lvchange -ay)) when their device paths are missing; they must then be logical
        volume paths C(/dev/<vg>/<lv>). What M(gnt.cluster.lvm_volume) does with C(active=true),
        without reading the volume group when the volumes are active already.
    type: bool
    default: false
  link:
    description:
      - A symbolic link to the device (C(/dev/drbd<minor>)), the path the instance's domain
        uses. Made (with its directory, mode 0755) with O(state=up)/V(primary)/V(secondary),
        removed before the device with O(state=down).
    type: path
notes:
  - Supports check mode (only C(drbdsetup show), C(/proc/drbd), C(blockdev) and
    C(drbdmeta get-gi) are read).
  - Needs the DRBD 8.4 kernel module and drbd-utils; the module is loaded (C(modprobe drbd
    minor_count=256 usermode_helper=...)) when a device is brought up and it is not loaded.
seealso:
  - module: gnt.cluster.lvm_volume
  - module: gnt.cluster.storage_info
"""

EXAMPLES = r"""
- name: First assembly of a new device on the primary node
  gnt.cluster.drbd_device:
    minor: 0
    state: primary
    force_primary: true
    create_metadata: true
    data_dev: /dev/xenvg/6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_data
    meta_dev: /dev/xenvg/6f1a3a8e-2b4c-4d5e-8f90-1a2b3c4d5e6f.disk0_meta
    size_mib: 10240
    local_address: 198.18.0.11
    local_port: 11000
    peer_address: 198.18.0.12
    peer_port: 11000
    secret: "{{ gnt_drbd_secret }}"
  register: drbd0

- name: Allow two primaries for a live migration
  gnt.cluster.drbd_device:
    minor: 0
    local_address: 198.18.0.11
    local_port: 11000
    peer_address: 198.18.0.12
    peer_port: 11000
    secret: "{{ gnt_drbd_secret }}"
    dual_primary: true

- name: Tear it down
  gnt.cluster.drbd_device:
    minor: 0
    state: down
"""

RETURN = r"""
path:
  description: The device path.
  returned: always
  type: str
  sample: /dev/drbd0
exists:
  description: Whether the minor is configured in the kernel.
  returned: always
  type: bool
attached:
  description: Whether it has its local disk.
  returned: always
  type: bool
open:
  description: Whether it is primary here.
  returned: always
  type: bool
minor:
  description: The minor.
  returned: always
  type: int
connection:
  description: The connection state (Connected, WFConnection, StandAlone, SyncSource, Unconfigured...).
  returned: always
  type: str
role:
  description: This node's role (Primary, Secondary; empty when unconfigured).
  returned: always
  type: str
peer_role:
  description: The peer's role (Primary, Secondary, Unknown).
  returned: always
  type: str
disk:
  description: This node's disk state (UpToDate, Inconsistent, Diskless...).
  returned: always
  type: str
peer_disk:
  description: The peer's disk state.
  returned: always
  type: str
degraded:
  description: Not connected, or the local disk not up to date.
  returned: always
  type: bool
local_disk:
  description: Ganeti's local disk status, V(ok), V(sync), V(faulty) or V(unknown).
  returned: always
  type: str
sync_percent:
  description: Resync progress in percent; null when no resync runs.
  returned: always
  type: float
  sample: 62.6
sync_eta_seconds:
  description: Estimated seconds until the resync ends; null when unknown.
  returned: always
  type: int
data_dev:
  description: The attached data volume (null without local disk).
  returned: always
  type: str
meta_dev:
  description: The attached meta-data volume.
  returned: always
  type: str
local_address:
  description: The configured local endpoint, C(ip:port) (null without network).
  returned: always
  type: str
peer_address:
  description: The configured peer endpoint.
  returned: always
  type: str
dual_primary:
  description: Whether two primaries are allowed.
  returned: always
  type: bool
actions:
  description: What was done (or would be done in check mode).
  returned: always
  type: list
  elements: str
  sample: ["created resource resource0", "attached disk /dev/xenvg/x_data (meta /dev/xenvg/x_meta)"]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.storage.base import (
    ActionResult,
    StorageError,
    module_runner,
    state_diff,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd import (
    DrbdBackend,
    DrbdNet,
    DrbdSpec,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.drbd_sync import (
    SYNC_PARAMS,
    DrbdSync,
)
from ansible_collections.gnt.cluster.plugins.module_utils.storage.lvm import LvmBackend

NET_OPTIONS = ("local_address", "local_port", "peer_address", "peer_port", "secret")
SYNC_OPTIONS = dict(
    [("dynamic_resync", dict(type="bool", default=False))]
    + [(param.key, dict(type="int", default=param.default)) for param in SYNC_PARAMS])


def _spec(p):
    net = None
    if p["peer_address"] is not None:
        net = DrbdNet(local_ip=p["local_address"], local_port=p["local_port"],
                      peer_ip=p["peer_address"], peer_port=p["peer_port"], secret=p["secret"],
                      hmac_alg=p["hmac_alg"], protocol=p["protocol"],
                      dual_primary=p["dual_primary"])
    return DrbdSpec(minor=p["minor"], data_dev=p["data_dev"], meta_dev=p["meta_dev"],
                    size_mib=p["size_mib"], net=net,
                    sync=DrbdSync.from_dict(p["sync_params"]))


def _activate_volumes(runner, p, check):
    """Activate the backing volumes whose device paths are missing (``/dev/VG/LV``)."""
    actions = []
    for path in (p["data_dev"], p["meta_dev"]):
        if path is None or os.path.exists(path):
            continue
        parts = path.split("/")
        if len(parts) != 4 or parts[:2] != ["", "dev"]:
            raise StorageError("%s is missing and is not a logical volume path /dev/VG/LV"
                               % path)
        actions += LvmBackend(runner, parts[2]).attach(parts[3], check_mode=check).actions
    return actions


def _link(path, minor, check):
    """Point the link ``path`` at the device, making its directory; [] when it already does."""
    target = "/dev/drbd%d" % minor
    if os.path.islink(path) and os.readlink(path) == target:
        return []
    if not check:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        temp = "%s.gnt-new" % path
        if os.path.lexists(temp):
            os.unlink(temp)
        os.symlink(target, temp)
        os.replace(temp, path)
    return ["linked %s to %s" % (path, target)]


def _unlink(path, check):
    """Remove the link ``path``; [] when it is not there."""
    if not os.path.lexists(path):
        return []
    if not os.path.islink(path):
        raise StorageError("%s is not a symbolic link, not removing it" % path)
    if not check:
        os.unlink(path)
    return ["removed link %s" % path]


def _run(backend, p, check, runner=None):
    state = p["state"]
    minor = p["minor"]
    if state == "down":
        unlinked = _unlink(p["link"], check) if p["link"] else []
        outcome = backend.down(minor, check_mode=check)
        return ActionResult(state=outcome.state, actions=unlinked + outcome.actions)
    if state == "disconnected":
        return backend.disconnect(minor, check_mode=check)
    if state == "detached":
        return backend.detach_disk(minor, check_mode=check)
    spec = _spec(p)
    actions = _activate_volumes(runner, p, check) if p["activate_volumes"] else []
    if p["create_metadata"]:
        actions += backend.create_metadata(spec, check_mode=check).actions
    role = state if state in ("primary", "secondary") else None
    outcome = backend.assemble(spec, role=role, force_primary=p["force_primary"],
                               check_mode=check, usermode_helper=p["usermode_helper"])
    actions += outcome.actions
    if p["resize"]:
        resized = backend.resize(minor, p["size_mib"], check_mode=check)
        actions += resized.actions
        if not check:
            outcome.state = resized.state
    if p["link"]:
        actions += _link(p["link"], minor, check)
    if p["wait_sync"] and not check:
        backend.wait_for_sync(minor, p["wait_timeout"])
        outcome.state = backend.info(minor)
    return ActionResult(state=outcome.state, actions=actions)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            minor=dict(type="int", required=True),
            state=dict(type="str", default="up",
                       choices=["up", "primary", "secondary", "disconnected", "detached",
                                "down"]),
            data_dev=dict(type="path"),
            meta_dev=dict(type="path"),
            size_mib=dict(type="int"),
            create_metadata=dict(type="bool", default=False),
            local_address=dict(type="str"),
            local_port=dict(type="int"),
            peer_address=dict(type="str"),
            peer_port=dict(type="int"),
            secret=dict(type="str", no_log=True),
            hmac_alg=dict(type="str", choices=["md5", "sha1", "sha256", "sha512"],
                          default="md5"),
            protocol=dict(type="str", choices=["A", "B", "C"], default="C"),
            dual_primary=dict(type="bool", default=False),
            sync_params=dict(type="dict", default={}, options=SYNC_OPTIONS),
            force_primary=dict(type="bool", default=False),
            resize=dict(type="bool", default=False),
            wait_sync=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=3600),
            usermode_helper=dict(type="str", default="/bin/true"),
            activate_volumes=dict(type="bool", default=False),
            link=dict(type="path"),
        ),
        required_together=[list(NET_OPTIONS), ["data_dev", "meta_dev"]],
        required_if=[["create_metadata", True, ["meta_dev"]]],
        supports_check_mode=True,
    )
    p = module.params
    if p["size_mib"] is not None and p["size_mib"] <= 0:
        module.fail_json(msg="drbd%d: size_mib must be positive, got %d"
                         % (p["minor"], p["size_mib"]))
    try:
        runner = module_runner(module)
        backend = DrbdBackend(runner)
        before = backend.info(p["minor"])
        outcome = _run(backend, p, module.check_mode, runner)
    except StorageError as err:
        module.fail_json(msg=str(err), minor=p["minor"])
    result = outcome.as_dict()
    if module._diff:
        result["diff"] = state_diff(before, outcome.state,
                                    ("exists", "attached", "role", "connection", "peer_address",
                                     "dual_primary"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

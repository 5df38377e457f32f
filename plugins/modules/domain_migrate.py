#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: domain_migrate
short_description: Migrate an instance's running domain to another node
description:
  - Runs on the B(source) node. Migrates the running libvirt/QEMU domain of an instance to
    the libvirtd at O(dest_uri), peer to peer (the source libvirtd talks to the destination
    itself), persistently on the destination and undefined on the source
    (C(VIR_MIGRATE_PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE), plus C(LIVE) and C(UNSAFE) as
    asked for).
  - The instance's disks must be reachable under the same paths on both nodes (shared
    storage); this module moves memory and device state only.
  - Idempotent - a domain that already runs on the destination and is not active on the
    source is reported unchanged. A domain on neither node, active on both, or not running on
    the source is an error.
  - On failure (including O(timeout)) the guest keeps running on the source node, which
    libvirt's peer-to-peer protocol guarantees; the error message says so and gives the state
    found on the source.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
requirements:
  - libvirt Python binding (Debian C(python3-libvirt)) on the source node
options:
  name:
    description: Name of the domain (the instance name).
    type: str
    required: true
  uri:
    description: libvirt URI of the source node's libvirtd (where this module runs).
    type: str
    default: qemu:///system
  dest_uri:
    description:
      - libvirt URI of the destination node's libvirtd, as the source libvirtd reaches it,
        e.g. C(qemu+ssh://root@192.0.2.12/system) in a cluster or
        C(qemu+tcp://198.18.0.12/system) in the lab.
    type: str
    required: true
  live:
    description:
      - V(true) migrates while the guest runs (C(VIR_MIGRATE_LIVE)); V(false) pauses it for
        the whole transfer (non-live migration), which is shorter overall but stops the guest
        for all of it.
    type: bool
    default: true
  unsafe:
    description:
      - Allow the migration although libvirt cannot prove the disks are safe to share
        (C(VIR_MIGRATE_UNSAFE)); needed for disks on file-based shared storage that libvirt
        does not recognise as a cluster file system.
    type: bool
    default: false
  max_downtime_ms:
    description:
      - Maximum tolerable downtime of the final switch-over, in milliseconds. When unset, the
        instance's hvparam C(migration_downtime) from O(hvparams) (default 30).
    type: int
  hvparams:
    description:
      - The instance's (filled) hypervisor parameters; C(migration_downtime) sets the maximum
        downtime unless O(max_downtime_ms) is given. Other keys are ignored here.
    type: dict
    default: {}
  bandwidth_mib:
    description: Bandwidth limit of the migration stream in MiB/s (none when unset).
    type: int
  timeout:
    description:
      - Seconds after which a migration still in progress is aborted (the guest stays on the
        source). V(0) waits without limit.
    type: int
    default: 600
notes:
  - Supports check mode (nothing is migrated; C(changed) says whether it would be).
seealso:
  - module: gnt.cluster.domain
"""

EXAMPLES = r"""
- name: Live-migrate an instance on shared file storage to node2
  gnt.cluster.domain_migrate:
    name: inst1.example.com
    dest_uri: qemu+ssh://root@192.0.2.12/system
    unsafe: true
    max_downtime_ms: 300
  register: migrated

- name: Non-live migration, at most 100 MiB/s
  gnt.cluster.domain_migrate:
    name: inst1.example.com
    dest_uri: qemu+ssh://root@192.0.2.12/system
    live: false
    bandwidth_mib: 100
"""

RETURN = r"""
name:
  description: Name of the domain.
  returned: always
  type: str
  sample: inst1.example.com
action:
  description: V(migrate) when the domain was (or, in check mode, would be) migrated,
    V(already_there) when it already ran on the destination.
  returned: success
  type: str
  sample: migrate
state:
  description: State of the domain on the destination afterwards (running, paused, absent, ...).
  returned: success
  type: str
  sample: running
source_state:
  description: State of the domain on the source afterwards (absent after a migration).
  returned: success
  type: str
  sample: absent
duration_s:
  description: Wall-clock seconds of the migration call (0 when nothing was migrated).
  returned: success
  type: float
  sample: 1.07
downtime_ms:
  description: Downtime of the switch-over as libvirt measured it (statistics of the completed
    job on the destination), or null when libvirt did not report it.
  returned: success
  type: int
  sample: 42
data_total_mib:
  description: Data to transfer according to libvirt's job statistics, or null.
  returned: success
  type: float
data_processed_mib:
  description: Data actually transferred according to libvirt's job statistics, or null.
  returned: success
  type: float
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    connect,
)
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_migrate import (
    max_downtime_of,
    migrate,
)


def check_args(p):
    """Return an error message for invalid option values, or None."""
    name = p["name"]
    if p["dest_uri"] == p["uri"]:
        return "domain %s: dest_uri %s is the source uri itself" % (name, p["dest_uri"])
    for key in ("max_downtime_ms", "bandwidth_mib"):
        if p[key] is not None and p[key] <= 0:
            return "domain %s: %s must be positive, got %d" % (name, key, p[key])
    if p["timeout"] < 0:
        return "domain %s: timeout must be >= 0 (0: no limit), got %d" % (name, p["timeout"])
    return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            dest_uri=dict(type="str", required=True),
            live=dict(type="bool", default=True),
            unsafe=dict(type="bool", default=False),
            max_downtime_ms=dict(type="int"),
            hvparams=dict(type="dict", default={}),
            bandwidth_mib=dict(type="int"),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = check_args(p)
    if error:
        module.fail_json(msg=error, name=p["name"])
    try:
        downtime = max_downtime_of(p["name"], p["hvparams"], p["max_downtime_ms"])
        conn = connect(p["uri"])
        try:
            result = migrate(conn, p["name"], p["dest_uri"], live=p["live"], unsafe=p["unsafe"],
                             max_downtime_ms=downtime,
                             bandwidth_mib=p["bandwidth_mib"], timeout=p["timeout"],
                             check_mode=module.check_mode)
        finally:
            conn.close()
    except DomainError as err:
        module.fail_json(msg=str(err), name=p["name"])
    module.exit_json(name=p["name"], **result)


if __name__ == "__main__":
    main()

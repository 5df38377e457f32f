#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: instance
short_description: Ensure a virtual machine of a gnt.cluster (Ganeti) cluster is in a state
description:
  - Creates, changes, starts, stops, reboots, migrates, fails over and removes an instance
    through the cluster's remote API, as C(gnt-instance) would, and waits for each job.
  - Only what differs is changed. Backend, hypervisor and OS parameters of an existing
    instance are changed with one modify job (effective at its next start, as Ganeti's);
    missing tags are added. Its OS, disk template, disks, NICs and primary node are not
    changed by this module (a warning says so when they differ).
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
extends_documentation_fragment:
  - gnt.cluster.rapi
options:
  name:
    description: The instance's name.
    type: str
    required: true
  state:
    description:
      - V(present) - it exists (created, and started unless O(start=false), if missing).
      - V(started)/V(stopped) - it exists and runs / does not run.
      - V(restarted) - it is rebooted (always a change).
      - V(migrated)/V(failed_over) - it runs on O(target_node), or is moved where
        O(iallocator) places it (then always a move).
      - V(absent) - it is removed with its disks.
    type: str
    default: present
    choices: [present, absent, started, stopped, restarted, migrated, failed_over]
  os:
    description: OS definition (C(name+variant)) to install; needed to create it with disks.
    type: str
  disk_template:
    description: Disk template of a new instance.
    type: str
    default: file
    choices: [diskless, file, sharedfile, plain, drbd]
  disks:
    description: Disks of a new instance, each with C(size) (MiB, or with a unit as
      C(512M), C(10G)) and optionally C(mode).
    type: list
    elements: dict
    default: []
  nics:
    description: NICs of a new instance (RAPI NIC dicts such as C(link), C(mode), C(ip),
      C(mac)); default one NIC with the cluster's defaults.
    type: list
    elements: dict
  primary_node:
    description: Node of a new instance (else the cluster's allocator chooses).
    type: str
  iallocator:
    description: Allocator to place a new instance, or to choose the target of a move.
    type: str
  hypervisor:
    description: Hypervisor of a new instance.
    type: str
  beparams:
    description: Backend parameters (C(memory), C(maxmem), C(minmem), C(vcpus),
      C(auto_balance), C(always_failover), C(spindle_use)); sizes may carry units.
    type: dict
  hvparams:
    description: Hypervisor parameters.
    type: dict
  osparams:
    description: OS parameters.
    type: dict
  tags:
    description: Tags the instance must have (others are left alone).
    type: list
    elements: str
  start:
    description: Start a new instance after creating it (O(state=present)).
    type: bool
    default: true
  name_check:
    description: Resolve the name of a new instance (hosts file on the master).
    type: bool
  ip_check:
    description: Refuse a new instance whose address answers.
    type: bool
  no_install:
    description: Create without running the OS install scripts.
    type: bool
  wait_for_sync:
    description: Wait for mirrored disks to sync after creation.
    type: bool
  shutdown_timeout:
    description: Seconds to wait for a clean shutdown before the instance is killed.
    type: int
  reboot_type:
    description: Kind of reboot for O(state=restarted).
    type: str
    choices: [soft, hard, full]
  target_node:
    description: Node to migrate or fail over to.
    type: str
attributes:
  check_mode:
    support: full
    description: Every job runs as a dry run - its checks pass or fail, nothing changes.
  diff_mode:
    support: full
    description: Shows the instance's state, nodes, parameters and tags before and after.
notes:
  - Runs on the controller; talks to the cluster's remote API only.
"""

EXAMPLES = r"""
- name: A small VM from the bundled OS, running
  gnt.cluster.instance:
    host: cluster.example.org
    user: ansible
    password: "{{ rapi_password }}"
    ca_path: /etc/ssl/gnt/rapi.pem
    name: web1.example.org
    os: tinylinux+default
    disks: [{size: 1G}]
    beparams: {memory: 256M, vcpus: 1}
    tags: [role:web]
    state: started

- name: Move it to another node (shared storage)
  gnt.cluster.instance:
    name: web1.example.org
    state: migrated
    target_node: node2.example.org

- name: Gone
  gnt.cluster.instance:
    name: web1.example.org
    state: absent
"""

RETURN = r"""
instance:
  description: The instance as the remote API describes it after the change (absent - null).
  returned: always
  type: dict
jobs:
  description: Ids of the jobs this run submitted, in order.
  returned: always
  type: list
  elements: int
  sample: [12, 13]
log:
  description: The jobs' log messages.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.rapi_client import (
    JobFailed,
    RapiClient,
    RapiError,
    rapi_argument_spec,
)
from ansible_collections.gnt.cluster.plugins.module_utils.rapi_instance import (
    InstanceReconciler,
    ParameterError,
    predicted,
    summary,
)


def main():
    module = AnsibleModule(
        argument_spec=rapi_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", default="present",
                       choices=["present", "absent", "started", "stopped", "restarted",
                                "migrated", "failed_over"]),
            os=dict(type="str"),
            disk_template=dict(type="str", default="file",
                               choices=["diskless", "file", "sharedfile", "plain", "drbd"]),
            disks=dict(type="list", elements="dict", default=[]),
            nics=dict(type="list", elements="dict"),
            primary_node=dict(type="str"),
            iallocator=dict(type="str"),
            hypervisor=dict(type="str"),
            beparams=dict(type="dict"),
            hvparams=dict(type="dict"),
            osparams=dict(type="dict"),
            tags=dict(type="list", elements="str"),
            start=dict(type="bool", default=True),
            name_check=dict(type="bool"),
            ip_check=dict(type="bool"),
            no_install=dict(type="bool"),
            wait_for_sync=dict(type="bool"),
            shutdown_timeout=dict(type="int"),
            reboot_type=dict(type="str", choices=["soft", "hard", "full"]),
            target_node=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    client = RapiClient.from_module(module)
    work = InstanceReconciler(client, module.params, module.check_mode)
    try:
        before = work.reconcile()
        after = client.instance(module.params["name"])
    except ParameterError as err:
        module.fail_json(msg="Invalid parameter: %s" % err, jobs=work.jobs)
    except JobFailed as err:
        module.fail_json(msg=str(err), jobs=work.jobs, job=err.job, log=work.log)
    except RapiError as err:
        module.fail_json(msg=str(err), status=err.code, jobs=work.jobs)
    for warning in work.warnings:
        module.warn(warning)
    changed = bool(work.jobs)
    result = dict(changed=changed, instance=after, jobs=work.jobs, log=work.log)
    if module._diff:
        planned = predicted(before, module.params) if module.check_mode and changed \
            else summary(after)
        result["diff"] = dict(before=summary(before), after=planned)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

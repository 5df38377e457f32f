#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: domain
short_description: Manage the libvirt domain of an instance on one node
description:
  - Defines, starts, shuts down, reboots and undefines the libvirt/QEMU domain of an
    instance, and reports its state afterwards.
  - To only look at a domain (including its live XML), use M(gnt.cluster.domain_info).
  - The domain XML is rendered from the instance spec (hvparams, beparams, disks, NICs) by
    one Jinja2 template; see C(docs/node-primitives.md) for the spec.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
requirements:
  - libvirt Python binding (Debian C(python3-libvirt)) on the node
  - jinja2 (Debian C(python3-jinja2)) on the node, for O(state=defined) and O(state=running)
options:
  name:
    description: Name of the domain (the instance name).
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  state:
    description:
      - V(defined) makes the persistent definition match O(spec) (a running domain keeps
        running; the new definition applies at its next start). This is the default, so a
        task without O(state) needs O(spec) and never starts or stops anything.
      - V(running) (re)defines the domain from O(spec) when it is not running, then starts it.
      - V(shutdown) sends an ACPI shutdown, waits O(shutdown_timeout) seconds, then forces the
        domain off.
      - V(rebooted) reboots the domain, see O(reboot_type); a domain that is not running is
        started from O(spec) instead (as Ganeti's instance reboot). Always reports a change.
      - V(absent) forces the domain off and undefines it.
    type: str
    choices: [defined, running, shutdown, rebooted, absent]
    default: defined
  spec:
    description:
      - The instance spec (name, uuid, os, hvparams, beparams, memory, disks, nics,
        console_log). Required for O(state=defined), O(state=running), a V(hard) or V(full)
        O(reboot_type) and the reboot of a domain that is not running.
    type: dict
  shutdown_timeout:
    description:
      - Seconds to wait for the guest to power off after the ACPI request before forcing it
        off. V(0) forces it off at once.
    type: int
    default: 120
  reboot_type:
    description:
      - V(soft) asks the guest to reboot (ACPI, libvirt C(reboot())).
      - V(hard) forces the domain off and starts it again from the freshly rendered O(spec).
      - V(full) shuts the domain down (ACPI, forced off after O(shutdown_timeout) seconds)
        and starts it again from O(spec).
    type: str
    choices: [soft, hard, full]
    default: soft
  undefine:
    description:
      - With O(state=shutdown), once the domain is off, remove its persistent definition
        too (its disks stay), in the same task, as an instance failover does on the node
        it leaves.
    type: bool
    default: false
  memory_mib:
    description:
      - With O(state=running), set the runtime (balloon) memory of the running domain. Must
        lie within the instance's minmem..maxmem (from O(spec) beparams, else from the
        domain). The guest needs a balloon driver to actually release memory.
    type: int
attributes:
  check_mode:
    support: full
    description: Reports what would change and changes nothing.
  diff_mode:
    support: full
    description:
      - Shows the domain's state and persistent definition (XML) before and after; an absent
        domain is empty text. With O(memory_mib) the runtime memory is shown too.
      - In check mode the "after" definition is the one rendered from O(spec) when it would
        be (re)defined; libvirt normalises it (defaults, addresses) when it is really defined.
seealso:
  - module: gnt.cluster.domain_info
"""

EXAMPLES = r"""
- name: Define (or update the definition of) an instance's domain without starting it
  gnt.cluster.domain:
    name: "{{ gnt_instance.name }}"
    uri: "{{ gnt_node.libvirt_uri }}"
    spec: "{{ gnt_instance }}"

- name: Start an instance (defines it from the spec first)
  gnt.cluster.domain:
    name: "{{ gnt_instance.name }}"
    uri: "{{ gnt_node.libvirt_uri }}"
    state: running
    spec: "{{ gnt_instance }}"

- name: Stop it, forcing it off after 60 seconds
  gnt.cluster.domain:
    name: inst1.example.com
    state: shutdown
    shutdown_timeout: 60

- name: Stop it and remove its definition (disks stay), as a failover does on its old node
  gnt.cluster.domain:
    name: inst1.example.com
    state: shutdown
    shutdown_timeout: 60
    undefine: true

- name: Balloon it down to 256 MiB
  gnt.cluster.domain:
    name: inst1.example.com
    state: running
    spec: "{{ gnt_instance }}"
    memory_mib: 256

- name: Remove it
  gnt.cluster.domain:
    name: inst1.example.com
    state: absent
"""

RETURN = r"""
name:
  description: Name of the domain.
  returned: always
  type: str
  sample: inst1.example.com
state:
  description: State of the domain afterwards (running, shutoff, paused, absent, ...).
  returned: always
  type: str
  sample: running
id:
  description: libvirt domain id, -1 when not running.
  returned: always
  type: int
memory_mib:
  description: Current memory in MiB as libvirt reports it.
  returned: always
  type: int
  sample: 128
maxmem_mib:
  description: Maximum memory in MiB.
  returned: always
  type: int
  sample: 128
vcpus:
  description: Number of virtual CPUs.
  returned: always
  type: int
persistent:
  description: Whether the domain has a persistent definition.
  returned: always
  type: bool
console:
  description: Serial console of the domain.
  returned: always
  type: dict
  contains:
    pty:
      description: Path of the console pseudo terminal while running, else null.
      type: str
    log:
      description: File the serial console output is appended to, or null.
      type: str
definition_outdated:
  description: The persistent definition differs from O(spec) (only when O(spec) is given).
  returned: when spec is given
  type: bool
forced:
  description: The domain had to be forced off (shutdown timeout reached or 0).
  returned: when state is shutdown
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.domain_diff import (
    domain_diff,
    planned,
    snapshot,
)
from ansible_collections.gnt.cluster.plugins.module_utils.domain_xml import DomainSpecError
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    DomainError,
    connect,
    describe,
    ensure_absent,
    ensure_defined,
    ensure_running,
    ensure_shutdown,
    reboot,
    render,
    set_memory,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
            state=dict(type="str", default="defined",
                       choices=["defined", "running", "shutdown", "rebooted", "absent"]),
            spec=dict(type="dict"),
            shutdown_timeout=dict(type="int", default=120),
            reboot_type=dict(type="str", choices=["soft", "hard", "full"], default="soft"),
            memory_mib=dict(type="int"),
            undefine=dict(type="bool", default=False),
        ),
        required_if=[
            ("state", "defined", ["spec"]),
            ("state", "running", ["spec"]),
        ],
        supports_check_mode=True,
    )
    p = module.params
    name, state, spec = p["name"], p["state"], p["spec"]
    if spec is not None and spec.get("name", name) != name:
        module.fail_json(msg="domain %s: spec is for instance %s" % (name, spec.get("name")))
    if spec is not None:
        spec = dict(spec, name=name)
    if state == "rebooted" and p["reboot_type"] != "soft" and spec is None:
        module.fail_json(msg="domain %s: reboot_type=%s needs spec to restart from"
                         % (name, p["reboot_type"]))
    if p["memory_mib"] is not None and state != "running":
        module.fail_json(msg="domain %s: memory_mib is only valid with state=running" % name)
    if p["undefine"] and state != "shutdown":
        module.fail_json(msg="domain %s: undefine is only valid with state=shutdown" % name)
    if p["shutdown_timeout"] < 0:
        module.fail_json(msg="domain %s: shutdown_timeout must be >= 0" % name)

    changed = False
    extra = {}
    try:
        xml_text = render(spec) if spec is not None else None
        conn = connect(p["uri"])
        try:
            before = snapshot(conn, name, xml_text) if module._diff else None
            if state == "defined":
                changed = ensure_defined(conn, spec, xml_text, module.check_mode)
            elif state == "running":
                changed = ensure_running(conn, spec, module.check_mode, xml_text)
                if p["memory_mib"] is not None and not (module.check_mode and changed):
                    changed |= set_memory(conn, name, p["memory_mib"], spec, module.check_mode)
            elif state == "shutdown":
                changed, forced = ensure_shutdown(conn, name, p["shutdown_timeout"],
                                                  module.check_mode)
                extra["forced"] = forced
                if p["undefine"]:
                    changed |= ensure_absent(conn, name, module.check_mode)
            elif state == "rebooted":
                changed = reboot(conn, name, p["reboot_type"], spec, module.check_mode,
                                 p["shutdown_timeout"], xml_text)
            elif state == "absent":
                changed = ensure_absent(conn, name, module.check_mode)
            result = describe(conn, name, xml_text)
            if before is not None:
                planned_state = "absent" if p["undefine"] else state
                after = (planned(before, planned_state, xml_text, p["memory_mib"],
                                 p["reboot_type"])
                         if module.check_mode else snapshot(conn, name))
                extra["diff"] = domain_diff(before, after, name,
                                            show_memory=p["memory_mib"] is not None)
        finally:
            conn.close()
    except (DomainError, DomainSpecError) as err:
        module.fail_json(msg=str(err), name=name)
    result.update(extra)
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()

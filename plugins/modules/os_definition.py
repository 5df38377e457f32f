#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: os_definition
short_description: Discover Ganeti OS definitions and run their scripts on a node
description:
  - Lists the OS definitions found in the OS search path (O(action=diagnose)), or runs one
    of an OS definition's scripts (create, import, export, rename) for an instance.
  - Supports the Ganeti OS API versions 5 (command-line arguments) and 10, 15, 20
    (environment variables), choosing the highest version both sides support, so Debian's
    C(ganeti-os-noop) and C(ganeti-instance-debootstrap) run unmodified.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  action:
    description:
      - V(diagnose) reports every OS definition in O(search_path); it changes nothing.
      - V(create), V(import), V(export), V(rename) run that script of O(os) for O(instance).
    type: str
    choices: [diagnose, create, import, export, rename]
    required: true
  search_path:
    description: Directories holding OS definitions, searched in order (first match wins).
    type: list
    elements: path
    required: true
  os:
    description:
      - OS name, optionally with a variant as C(name+variant). Defaults to the C(os) of
        O(instance). Required (directly or through O(instance)) for all actions but diagnose.
    type: str
  instance:
    description:
      - The instance spec (name, uuid, os, osparams, hypervisor, hvparams, beparams, disks,
        nics, disk_template). Required for all actions but diagnose.
    type: dict
  old_name:
    description: The previous instance name, required for O(action=rename).
    type: str
  log_dir:
    description:
      - Directory for the script's output, written to
        C(<log_dir>/<action>-<os>-<instance>-<timestamp>.log). Without it the output is kept
        only to report the last lines of a failure.
    type: path
  debug_level:
    description: Value of C(DEBUG_LEVEL) for the script (API 10 and later).
    type: int
    default: 0
  stdin_path:
    description: File fed to the script's standard input; required for O(action=import).
    type: path
  stdout_path:
    description: File receiving the script's standard output; required for O(action=export).
    type: path
  disk_index:
    description: Index of the disk to export or import.
    type: int
    default: 0
  reinstall:
    description: With O(action=create), set C(INSTANCE_REINSTALL=1) (a reinstall).
    type: bool
    default: false
  skip_if_installed:
    description:
      - With O(action=create), do nothing (and report no change) when every disk of O(instance)
        records a completed install of this instance (its C(uuid)), so a rerun does not
        reinstall over an installed disk.
      - Every create run clears that record before the script runs and writes it (an extended
        attribute on each disk file) after the script succeeded, so a failed install runs again.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Scripts are not run; the OS, its variant and parameters are validated.
  diff_mode:
    support: partial
    description:
      - With O(action=create), shows the OS install record of the instance's disks before
        and after (RV(installed)). The other actions run a script whose effect inside the
        guest's disks is not something this module can compare, so they show no diff.
notes:
  - In check mode scripts are not run (but the OS, its variant and
    parameters are validated).
  - Running a script always reports a change; with O(skip_if_installed), an instance whose
    install is recorded on its disks reports none (in check mode too).
"""

EXAMPLES = r"""
- name: List the OS definitions of this node
  gnt.cluster.os_definition:
    action: diagnose
    search_path: [/srv/gnt/os, /usr/share/ganeti/os]

- name: Install the OS on a new instance
  gnt.cluster.os_definition:
    action: create
    search_path: "{{ gnt_node.os_search_path }}"
    instance: "{{ gnt_instance }}"
    log_dir: "{{ gnt_node.os_log_dir }}"

- name: Dump disk 0 for a backup
  gnt.cluster.os_definition:
    action: export
    search_path: "{{ gnt_node.os_search_path }}"
    instance: "{{ gnt_instance }}"
    disk_index: 0
    stdout_path: /srv/gnt/export/inst1.example.com.new/disk0.dump
"""

RETURN = r"""
oses:
  description: Every OS definition found (diagnose only).
  returned: when action is diagnose
  type: list
  elements: dict
  contains:
    name:
      description: OS name (directory name).
      type: str
    path:
      description: Directory of the definition.
      type: str
    valid:
      description: Whether it can be used.
      type: bool
    api_versions:
      description: Versions listed in ganeti_api_version.
      type: list
      elements: int
    api_version:
      description: The version that would be used (null when none is supported).
      type: int
    variants:
      description: Declared variants (API 15 and later).
      type: list
      elements: str
    parameters:
      description: Declared parameters as pairs of name and description (API 20).
      type: list
      elements: list
    has_verify:
      description: Whether the definition has a verify script.
      type: bool
    error:
      description: Why it is invalid, naming what is missing; empty when valid.
      type: str
    shadowed:
      description: Same-named definitions later in the search path.
      type: list
      elements: str
os:
  description: Name of the OS whose script ran.
  returned: when a script ran (or would, in check mode)
  type: str
os_path:
  description: Directory of the OS definition used.
  returned: when a script ran (or would, in check mode)
  type: str
api_version:
  description: OS API version used.
  returned: when a script ran (or would, in check mode)
  type: int
  sample: 20
variant:
  description: Variant passed to the script (empty when none).
  returned: when a script ran (or would, in check mode)
  type: str
script:
  description: Script that ran.
  returned: when a script ran
  type: str
args:
  description: Arguments given to the script (API 5 only; empty otherwise).
  returned: when a script ran
  type: list
  elements: str
rc:
  description: Exit code of the script.
  returned: when a script ran
  type: int
log_path:
  description: Log file of the run (null without O(log_dir)).
  returned: when a script ran
  type: str
installed:
  description:
    - With O(action=create), whether the OS install of the instance is recorded on its disks
      (before the run when it was skipped, after it otherwise; check mode reports the state found).
  returned: when action is create
  type: bool
log_tail:
  description: Last 20 lines of the log on failure.
  returned: on failure
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.os_interface import (
    OSDefinitionError,
    check_variant_and_params,
    diagnose,
    find_os,
    install_recorded,
    mark_install,
    run_script,
    split_os_name,
    verify_parameters,
)


def install_diff(instance_name, os_name, before, after):
    """Diff mode of a create: the OS install record of the instance's disks."""
    view = {"instance": instance_name, "os": os_name}
    return {"before": dict(view, os_installed=before), "after": dict(view, os_installed=after)}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(type="str", required=True,
                        choices=["diagnose", "create", "import", "export", "rename"]),
            search_path=dict(type="list", elements="path", required=True),
            os=dict(type="str"),
            instance=dict(type="dict"),
            old_name=dict(type="str"),
            log_dir=dict(type="path"),
            debug_level=dict(type="int", default=0),
            stdin_path=dict(type="path"),
            stdout_path=dict(type="path"),
            disk_index=dict(type="int", default=0),
            reinstall=dict(type="bool", default=False),
            skip_if_installed=dict(type="bool", default=False),
        ),
        required_if=[
            ("action", "create", ["instance"]),
            ("action", "import", ["instance", "stdin_path"]),
            ("action", "export", ["instance", "stdout_path"]),
            ("action", "rename", ["instance", "old_name"]),
        ],
        supports_check_mode=True,
    )
    p = module.params
    action = p["action"]
    if action == "diagnose":
        module.exit_json(changed=False, oses=diagnose(p["search_path"]))

    instance = dict(p["instance"])
    if not instance.get("name"):
        module.fail_json(msg="os_definition %s: instance has no name" % action)
    os_name = p["os"] or instance.get("os")
    if not os_name:
        module.fail_json(msg="instance %s: no OS given (os or instance.os)" % instance["name"])
    instance["os"] = os_name
    name, variant = split_os_name(os_name)
    try:
        osdef = find_os(os_name, p["search_path"])
        if not osdef["valid"]:
            raise OSDefinitionError(osdef["error"])
        variant = check_variant_and_params(osdef, variant, instance.get("osparams") or {})
        summary = dict(os=name, os_path=osdef["path"], api_version=osdef["api_version"],
                       variant=variant)
        if action == "create":
            recorded = install_recorded(instance)
            summary["installed"] = recorded
            if recorded and p["skip_if_installed"]:
                module.exit_json(changed=False, msg="OS %s already installed on the disks of"
                                 " instance %s" % (name, instance["name"]), **summary)
        if module._diff and action == "create":
            summary["diff"] = install_diff(instance["name"], name, summary["installed"],
                                           bool(instance.get("disks")))
        if module.check_mode:
            module.exit_json(changed=True, **summary)
        if action == "create":
            for warning in mark_install(instance, False):
                module.warn(warning)
        if action in ("create", "import"):
            verify_parameters(osdef, instance, variant, p["debug_level"])
        result = run_script(osdef, instance, action, variant=variant,
                            debug_level=p["debug_level"], old_name=p["old_name"],
                            disk_index=p["disk_index"], log_dir=p["log_dir"],
                            stdin_path=p["stdin_path"], stdout_path=p["stdout_path"],
                            reinstall=p["reinstall"])
    except OSDefinitionError as err:
        details = getattr(err, "result", {})
        module.fail_json(msg=str(err), os=name,
                         rc=details.get("rc"), log_path=details.get("log_path"),
                         log_tail=details.get("log_tail", []), script=details.get("script"))
    summary.update(script=result["script"], args=result["args"], rc=result["rc"],
                   log_path=result["log_path"])
    if action == "create":
        warnings = mark_install(instance, True)
        for warning in warnings:
            module.warn(warning)
        summary["installed"] = bool(instance.get("disks")) and not warnings
        if "diff" in summary:
            summary["diff"]["after"]["os_installed"] = summary["installed"]
    module.exit_json(changed=True, **summary)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: export_dir
short_description: Put an instance export in place on a node, or remove one
description:
  - With O(state=present), writes O(config) as C(config.ini) (mode 0600) into the finished
    export O(source) and renames it to O(path), replacing the previous export there in two
    renames, so a reader sees the old or the new export, never half of one.
  - With O(state=absent), removes O(path) (a finished export or a hidden unfinished one).
  - Both paths must lie directly inside O(export_root); anything else is refused.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  path:
    description: The export's directory (C(EXPORT_ROOT/INSTANCE_NAME)).
    type: path
    required: true
  export_root:
    description: The node's export directory.
    type: path
    required: true
  state:
    description: V(present) puts O(source) in place at O(path); V(absent) removes O(path).
    type: str
    choices: [present, absent]
    default: present
  source:
    description: The finished export written beside O(path) (required with V(present)).
    type: path
  config:
    description: The text of the export's C(config.ini) (required with V(present)).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports whether the export would be put in place or removed; changes nothing.
  diff_mode:
    support: full
    description:
      - Shows the C(config.ini) of the export at O(path) before and after (empty text when
        there is no export).
notes:
  - Already in place (O(source) gone, O(path) holding the same
    C(config.ini)) or already absent reports C(changed=false).
seealso:
  - module: gnt.cluster.disk_export
"""

EXAMPLES = r"""
- name: Put the export of inst1 in place
  gnt.cluster.export_dir:
    path: /srv/gnt/export/inst1.example.com
    source: /srv/gnt/export/.inst1.example.com.new-0123456789ab
    config: "{{ export_config_text }}"
    export_root: /srv/gnt/export

- name: Remove the export of inst1
  gnt.cluster.export_dir:
    path: /srv/gnt/export/inst1.example.com
    export_root: /srv/gnt/export
    state: absent
"""

RETURN = r"""
path:
  description: The export's directory.
  returned: always
  type: str
  sample: /srv/gnt/export/inst1.example.com
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.export_dir import (
    ExportDirError,
    export_config,
    place_export,
    remove_export,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            export_root=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            source=dict(type="path"),
            config=dict(type="str"),
        ),
        required_if=[("state", "present", ("source", "config"))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        before = export_config(p["path"], p["export_root"]) if module._diff else None
        if p["state"] == "present":
            changed = place_export(p["path"], p["source"], p["config"], p["export_root"],
                                   check_mode=module.check_mode)
        else:
            changed = remove_export(p["path"], p["export_root"], check_mode=module.check_mode)
    except ExportDirError as err:
        module.fail_json(msg=str(err), path=p["path"])
    result = {"changed": changed, "path": p["path"]}
    if before is not None:
        after = p["config"] if p["state"] == "present" else ""
        header = "%s/config.ini" % p["path"].rstrip("/")
        result["diff"] = {"before": before, "after": after, "before_header": header,
                          "after_header": header}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

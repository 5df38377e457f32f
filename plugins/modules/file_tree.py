#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: file_tree
short_description: Install small directory trees sent as tarballs in the module's arguments
description:
  - Installs each tarball of O(trees) under its directory, in one module run on the node;
    this is how C(node_prepare) installs the bundled OS definitions and ExtStorage providers (a few
    dozen small scripts), without C(ansible.builtin.unarchive)'s file transfer and C(tar)
    listings, which cost seconds per tree on a small node.
  - Only directories and regular files are taken; a member with an absolute name, a C(..)
    part or of another kind (link, device, fifo) is refused before anything is written.
  - A file is written (a temporary file renamed over it) only when its content differs; a
    differing mode alone is set with C(chmod). Files the tarball does not list are left alone.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  trees:
    description: The trees to install, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      dest:
        description: The absolute directory the tarball's members go under (made C(0755) when missing).
        type: path
        required: true
      archive:
        description:
          - The tarball (plain or compressed, as Python's C(tarfile) reads it), base64-encoded.
          - Modes are taken from it without set-id or sticky bits and without group or other write.
        type: str
        required: true
attributes:
  check_mode:
    support: full
    description: Reports what would be created, updated or have its mode set; writes nothing.
  diff_mode:
    support: none
    description: No diff; RV(installed) lists what changed.
seealso:
  - module: ansible.builtin.unarchive
"""

EXAMPLES = r"""
- name: Install the bundled OS definitions
  gnt.cluster.file_tree:
    trees:
      - dest: /srv/gnt/os
        archive: "{{ lookup('ansible.builtin.pipe', 'tar -C files/os -czf - . | base64 -w0') }}"
"""

RETURN = r"""
installed:
  description: Per destination, what was (in check mode, would be) done to which member.
  returned: always
  type: dict
  sample: {"/srv/gnt/os": ["created tinylinux/create", "mode 0755 blank/create"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gnt.cluster.plugins.module_utils.file_tree import (
    FileTreeError,
    entries,
    install,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            trees=dict(type="list", elements="dict", required=True, options=dict(
                dest=dict(type="path", required=True),
                archive=dict(type="str", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    installed = {}
    try:
        # every tarball is read and checked before anything is written
        wanted = [(tree["dest"], entries(tree["archive"])) for tree in module.params["trees"]]
        for dest, tree_entries in wanted:
            installed[dest] = install(dest, tree_entries, module.check_mode)
    except (FileTreeError, OSError) as err:
        module.fail_json(msg=str(err), installed=installed)
    module.exit_json(changed=any(installed.values()), installed=installed)


if __name__ == "__main__":
    main()

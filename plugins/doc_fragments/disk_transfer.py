# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010 -- Ansible plugin conventions (see docs/node-primitives.md)
"""Options disk_export and disk_import share (the instance, the OS, the other node)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The shared options of gnt.cluster.disk_export and gnt.cluster.disk_import."""

    DOCUMENTATION = r"""
options:
  instance:
    description:
      - The instance spec (see docs/node-primitives.md); C(name), C(os), C(osparams) and
        C(disks) (C(index), C(path)) are used, the rest goes into the OS environment.
    type: dict
    required: true
  compression:
    description: Compression of the dump files (for an import, from the export's
      C(config.ini)).
    type: str
    default: none
    choices: [none, gzip, gzip-fast, gzip-slow, lzop, zstd]
  peer:
    description: The other node - where the dumps go (export) or come from (import).
    type: dict
    required: true
    suboptions:
      local:
        description: V(true) when the dumps are on this node.
        type: bool
        default: false
      name:
        description: The other node's name, for messages.
        type: str
      address:
        description: Address of the other node for SSH (required unless O(peer.local)).
        type: str
      port:
        description: SSH port of the other node.
        type: int
        default: 22
      user:
        description: User to log in as on the other node.
        type: str
        default: root
      ssh_args:
        description: Extra C(ssh) arguments (for example the cluster's identity file).
        type: list
        elements: str
        default: []
  search_path:
    description: The OS search path (directories holding OS definitions).
    type: list
    elements: path
    default: []
  use_os:
    description: Go through the OS definition's C(export)/C(import) script when the instance
      has an OS; V(false) moves the raw disk data.
    type: bool
    default: true
  log_dir:
    description: Directory for the OS scripts' logs (their standard error).
    type: path
  debug_level:
    description: DEBUG_LEVEL given to the OS scripts.
    type: int
    default: 0
  timeout:
    description: Seconds one disk may take before its transfer is stopped.
    type: int
    default: 3600
"""

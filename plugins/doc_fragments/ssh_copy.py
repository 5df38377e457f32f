# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010 -- Ansible plugin conventions (see docs/node-primitives.md)
"""Options file_disk_send and block_disk_send share (the target node, over SSH)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The target-node options of gnt.cluster.file_disk_send and gnt.cluster.block_disk_send
    (declared once in module_utils/disk_send.py, ``ssh_copy_argument_spec``)."""

    DOCUMENTATION = r"""
options:
  target_address:
    description: Address (or host name) of the target node for SSH.
    type: str
    required: true
  target_port:
    description: SSH port of the target node.
    type: int
    default: 22
  target_user:
    description: User to log in as on the target node.
    type: str
    default: root
  ssh_args:
    description: Extra arguments for C(ssh) (for example C(-F) and a configuration file).
    type: list
    elements: str
    default: []
  remote_python:
    description: Python 3 interpreter on the target node that runs the receiver.
    type: str
    default: python3
  timeout:
    description: Seconds allowed for each disk (probe and copy each).
    type: int
    default: 3600
"""

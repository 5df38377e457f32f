#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP009, UP010, UP031, E402 -- Ansible module conventions (see docs/node-primitives.md)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: checkpoint
short_description: Wait for the coordinator between two plays of one run
description:
  - Waits, on the controller, until the file O(path) exists, then goes on when it holds
    C(go) and fails with its text as the message otherwise. Nothing runs on the node.
  - The master daemon of gnt.cluster puts it at the end of a play when it has a step of its
    own to take before the next play of the same run starts (for example, a failover records
    the new primary node once the instance is down on the old one and before it starts on the
    new one), so the operation takes one Ansible run instead of two.
  - The answer is looked for after 1 ms, then less and less often, at most every 20 ms.
  - This is an action plugin; the module only documents it.
version_added: "0.1.0"
author: gnt.cluster developers (@gnt-cluster)
options:
  path:
    description:
      - The absolute path, on the controller, of the file the answer is written to (in the
        run's private directory).
    type: path
    required: true
  timeout:
    description: Seconds to wait for the answer before failing.
    type: float
    default: 3600
notes:
  - Runs on the controller only; O(path) is never looked for on the node.
  - Behaves the same in check mode (it changes nothing); has no diff.
"""

EXAMPLES = r"""
- name: Wait for the coordinator to record the new primary node
  gnt.cluster.checkpoint:
    path: /var/lib/gnt/ansible/runs/run-abc123/checkpoint-0
    timeout: 3600
  run_once: true
"""

RETURN = r"""
msg:
  description: Why the run stops, when the answer was not C(go).
  returned: failure
  type: str
  sample: the config could not be written
"""

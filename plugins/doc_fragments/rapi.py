# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010 -- Ansible plugin conventions (see docs/node-primitives.md)
"""Connection options of the controller-side modules (the cluster's remote API)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """How a controller-side module reaches the cluster's remote API (Ganeti RAPI v2)."""

    DOCUMENTATION = r"""
options:
  host:
    description: The cluster's master (name or address) where gnt-rapi listens.
    type: str
    default: localhost
  port:
    description: The remote API's port.
    type: int
    default: 5080
  user:
    description: A user of the cluster's RAPI users file (with C(write) for changes).
    type: str
  password:
    description: The user's password.
    type: str
  validate_certs:
    description: Check the server's certificate (against O(ca_path) or the system's CAs).
    type: bool
    default: true
  ca_path:
    description: CA file to check the certificate with, e.g. a copy of the cluster's
      C(rapi.pem) certificate.
    type: path
  timeout:
    description: Seconds one request may take.
    type: int
    default: 60
  job_timeout:
    description: Seconds to wait for a job to finish.
    type: int
    default: 3600
notes:
  - The module runs where Ansible runs (the controller, or an AWX execution environment)
    and talks HTTPS to the cluster; it needs no access to the nodes.
  - Set the connection options once for all modules with C(module_defaults) and the
    action group C(group/gnt.cluster.rapi).
"""

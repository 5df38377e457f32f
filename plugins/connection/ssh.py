# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031, E402 -- Ansible plugin conventions
"""Ansible's ssh connection, with module tasks relayed to the node's warm module interpreter
through a socket forwarded over the SSH control master, instead of a new SSH session, two
shells and a client interpreter per task."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: ssh
short_description: Connect with SSH, modules through the node's warm module interpreter
description:
  - Connects as C(ansible.builtin.ssh) does, with all its options.
  - When a module task only runs the module interpreter O(module_interpreter) on the pipelined
    module payload, and the node has gnt.cluster's warm module interpreter (its C(modexec)
    files in O(relay_dir)), the payload goes to that interpreter's server through a Unix socket
    forwarded over the SSH control master (C(ssh -O forward)), and the module's output and exit
    code come back the same way. That saves a new SSH session, two shells and a client
    interpreter per module task (about 0.3-0.5 s on a small emulated node).
  - The module runs with the environment, directory and umask the server was started with,
    those of the SSH session of the module task that started it.
  - Anything else (other commands, file transfers, become, a task environment, no server or a
    server of other files on the node, no control master yet) runs exactly as with
    C(ansible.builtin.ssh); a module task that ran that way sets up the forward for the next.
  - The master daemon of gnt.cluster sets the options below in the inventories of its runs for
    the nodes other than the master.
author: gnt.cluster developers (@gnt-cluster)
version_added: "0.1.0"
options:
  module_interpreter:
    description:
      - The module interpreter of the host, the launcher of its warm module interpreter.
    type: str
    vars:
      - name: ansible_python_interpreter
  modexec_path:
    description:
      - The path, on the controller, of the warm module interpreter's program (C(modexec.py)),
        whose client speaks to the node's server.
      - Unset, every command runs as with C(ansible.builtin.ssh).
    type: path
    vars:
      - name: gnt_modexec_path
  relay_dir:
    description:
      - The directory, on the node, of its warm module interpreter's files (C(modexec.py) and
        the stable links of its servers' sockets).
      - Unset, every command runs as with C(ansible.builtin.ssh).
    type: str
    vars:
      - name: gnt_modexec_relay_dir
extends_documentation_fragment:
  - gnt.cluster.ssh_connection
notes:
  - The node's sshd must allow Unix socket forwarding (C(AllowStreamLocalForwarding), on by
    default); where it does not, module tasks run as with C(ansible.builtin.ssh).
"""

import os
import subprocess

from ansible.plugins.connection import ensure_connect
from ansible.plugins.connection.ssh import Connection as SSHConnection
from ansible.utils.display import Display

from ansible_collections.gnt.cluster.plugins.plugin_utils.modexec_client import (
    plain_text,
    warm_module_task,
)

display = Display()

#: How long setting up a forward on the control master may take.
FORWARD_TIMEOUT = 10


class Connection(SSHConnection):
    """``ansible.builtin.ssh`` with module tasks relayed to the node's warm module interpreter
    (see DOCUMENTATION)."""

    transport = "gnt.cluster.ssh"

    def _relay_plan(self, cmd, in_data):
        """``(modexec, local path, remote path)`` of the relay for this command, None when it
        is not a module task the relay can run."""
        task = warm_module_task(self, cmd, in_data, "relay_dir")
        if task is None:
            return None
        modexec, relay_dir = task[:2]
        control_dir = plain_text(self.get_option("control_path_dir"))
        if not control_dir:
            return None
        version = modexec.payload_version(in_data)
        if not version:
            return None
        remote = modexec.relay_link(relay_dir, version)
        local = modexec.forward_path(os.path.expanduser(control_dir), self.user, self.host,
                                     self.get_option("port"), remote)
        return modexec, local, remote

    def _forward(self, local, remote):
        """Have the control master forward ``local`` to ``remote`` on the node (for the next
        module task); failures only cost the relay."""
        cmd = self._build_command(self.get_option("ssh_executable"), "ssh", "-O", "forward",
                                  "-L", "%s:%s" % (local, remote), self.host)
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=FORWARD_TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError) as err:
            display.vvv("SSH: no relay forward: %s" % err, host=self.host)
            return
        display.vvv("SSH: relay forward %s -> %s: rc=%s %s"
                    % (local, remote, done.returncode, done.stderr.strip()), host=self.host)

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run ``cmd`` on the node; a module task through its warm module interpreter."""
        self.host = self.get_option("host") or self._play_context.remote_addr
        self.user = self.get_option("remote_user")
        plan = self._relay_plan(cmd, in_data)
        if plan is not None:
            modexec, local, remote = plan
            sock = modexec.connect_forward(local)
            if sock is not None:
                try:
                    display.vvv("EXEC (relayed to the warm module interpreter) %s" % cmd,
                                host=self.host)
                    result = modexec.relay(sock, in_data)
                finally:
                    sock.close()
                if result is not None:
                    return result
        result = super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        if plan is not None and result[0] != 255 and not os.path.exists(plan[1]):
            self._forward(plan[1], plan[2])
        return result

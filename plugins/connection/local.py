# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031, E402 -- Ansible plugin conventions
"""Ansible's local connection, with module tasks handed to the node's warm module
interpreter from the Ansible worker itself instead of through a shell and a client process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: local
short_description: Run on the controller, modules through the warm module interpreter
description:
  - Runs tasks on the Ansible controller, as C(ansible.builtin.local) does.
  - When a module task only runs the module interpreter O(module_interpreter) on the pipelined
    module payload, the payload goes straight from the Ansible worker process to the warm
    module interpreter that interpreter would reach (gnt.cluster's C(modexec) server, through
    the program O(modexec_path) loaded in this process), and the module's output comes back
    through pipes. That saves a shell and a client interpreter per
    module task (about 30 ms on a small host).
  - Anything else (other commands, file transfers, become, a task environment, another
    interpreter, no server to be had) runs exactly as with C(ansible.builtin.local).
  - The master daemon of gnt.cluster sets the options below in the inventories of its runs for
    the master node.
author: gnt.cluster developers (@gnt-cluster)
version_added: "0.1.0"
options:
  module_interpreter:
    description:
      - The module interpreter of the host, the launcher script of its warm module interpreter.
      - Module tasks go through this process only when it is the launcher of
        O(modexec_python) and O(modexec_path).
    type: str
    vars:
      - name: ansible_python_interpreter
  modexec_python:
    description:
      - The Python interpreter the launcher runs.
      - Module tasks go through this process only when it runs the same interpreter.
    type: str
    vars:
      - name: gnt_modexec_python
  modexec_path:
    description:
      - The path of the warm module interpreter's program (C(modexec.py)) the launcher runs.
      - Unset, every command runs as with C(ansible.builtin.local).
    type: path
    vars:
      - name: gnt_modexec_path
  become_success_timeout:
    type: int
    default: 10
    description:
      - As C(ansible.builtin.local) (ansible-core 2.19 and later).
    vars:
      - name: ansible_local_become_success_timeout
  become_strip_preamble:
    type: bool
    default: true
    description:
      - As C(ansible.builtin.local) (ansible-core 2.19 and later).
    vars:
      - name: ansible_local_become_strip_preamble
extends_documentation_fragment:
  - ansible.builtin.connection_pipelining
notes:
  - The remote user is ignored, as with C(ansible.builtin.local).
"""

import os
import sys

from ansible.plugins.connection import ensure_connect
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.utils.display import Display

from ansible_collections.gnt.cluster.plugins.plugin_utils.modexec_client import (
    warm_module_task,
)

display = Display()


def run_here(modexec, payload, python):
    """Run ``payload`` as the client of ``python`` (whose program is the module ``modexec``)
    would, from this process: through the same server, with this process's environment,
    directory and umask, the module's stdout and stderr read back through pipes.

    Returns ``(exit code, stdout, stderr)``, or None when nothing ran: this process is not
    ``python``, or no server could be reached or take the request (the caller then starts the
    client as usual, which falls back to a fresh interpreter)."""
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return None
    sock = modexec.server_for(payload, python)
    if sock is None:
        return None
    pipes = [*os.pipe(), *os.pipe()]  # stdout read, write; stderr read, write
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            modexec.send_request(sock, payload, [null, pipes[1], pipes[3]], current_umask())
        except OSError:
            return None  # the server dropped the request unread: nothing ran
        finally:
            os.close(null)
            for index in (1, 3):  # the module holds the write ends now
                os.close(pipes[index])
                pipes[index] = -1
        stdout, stderr = read_until_closed(modexec, pipes[0], pipes[2])
        rc = modexec.await_exit(sock)
    finally:
        sock.close()
        for fd in pipes:
            if fd >= 0:
                os.close(fd)
    if rc is None:
        return 1, stdout, stderr + modexec.GONE.encode()
    return rc, stdout, stderr


def current_umask():
    """This process's umask, read without changing it (other threads may create files)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def read_until_closed(modexec, out_fd, err_fd):
    """Everything written to the pipes ``out_fd`` and ``err_fd`` until every writer closed
    them (``modexec.drain``: read together, a module may fill either first)."""
    chunks = {out_fd: [], err_fd: []}
    modexec.drain([out_fd, err_fd], lambda fd, data: chunks[fd].append(data))
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


class Connection(LocalConnection):
    """``ansible.builtin.local`` with module tasks run in-process through the warm module
    interpreter (see DOCUMENTATION)."""

    transport = "gnt.cluster.local"

    def _run_here(self, cmd, in_data):
        """The module task's ``(rc, stdout, stderr)`` from the warm module interpreter, or None
        when this command is not one it can run from here."""
        task = warm_module_task(self, cmd, in_data, "modexec_python")
        if task is None:
            return None
        modexec, python, interpreter, modexec_path = task
        if not modexec.is_launcher(interpreter, python, modexec_path):
            return None
        display.vvv("EXEC (warm module interpreter) %s" % cmd, host=self._play_context.remote_addr)
        return run_here(modexec, in_data, python)

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=True):
        """Run ``cmd`` on the controller; a module task through the warm module interpreter."""
        result = self._run_here(cmd, in_data)
        if result is not None:
            return result
        return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)

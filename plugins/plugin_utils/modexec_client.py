# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031 -- Ansible plugin conventions
"""What the collection's connection plugins (``gnt.cluster.local``, ``gnt.cluster.ssh``) share
to hand module tasks to gnt.cluster's warm module interpreter: recognising a module task's
command and loading the interpreter's program (``modexec.py``, standard library only)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import shlex
import sys

from ansible.utils.display import Display

display = Display()

#: What a module task's shell runs after the interpreter (ansible-core's ``sleep 0``).
SHELL_TAIL = ["&&", "sleep", "0"]


def runs_interpreter_alone(cmd, interpreter):
    """True when the command ``cmd`` only runs ``interpreter``: ``SHELL -c 'INTERPRETER'``,
    optionally followed by ansible-core's ``&& sleep 0``, with nothing else (no environment,
    no directory change, no become wrapper)."""
    if not interpreter or not isinstance(cmd, str):
        return False
    try:
        parts = shlex.split(cmd)
        if len(parts) != 3 or parts[1] != "-c" or not os.path.isabs(parts[0]):
            return False
        inner = shlex.split(parts[2])
    except ValueError:
        return False
    return inner in ([interpreter], [interpreter] + SHELL_TAIL)


def plain_text(value):
    """``value`` as a plain ``str`` (Ansible hands variables over as subclasses of it, which,
    for one, ``marshal`` cannot write into a compiled file), '' for None."""
    return "" if value is None else "%s" % value


def load_modexec(path):
    """The warm module interpreter's program at ``path``, loaded as a module of its own (not
    put on ``sys.path``: its directory holds other modules)."""
    name = "gnt_cluster_modexec_" + os.path.realpath(path).replace(os.sep, "_").replace(".", "_")
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return module


def warm_module_task(connection, cmd, in_data, option):
    """``(modexec, value of option, module interpreter, modexec path)`` when ``cmd`` (with
    ``in_data``) is a module task that ``connection`` (a collection plugin whose options
    include ``modexec_path``, ``module_interpreter`` and ``option``) can hand to the warm
    module interpreter: the pipelined payload, no become, no directory change, the command
    only runs the module interpreter, and the options are set. None otherwise."""
    if in_data is None or connection.become is not None or getattr(connection, "cwd", None):
        return None
    modexec_path, value, interpreter = (
        plain_text(connection.get_option(name))
        for name in ("modexec_path", option, "module_interpreter"))
    if not modexec_path or not value or not runs_interpreter_alone(cmd, interpreter):
        return None
    try:
        modexec = load_modexec(modexec_path)
    except (OSError, ImportError, SyntaxError, ValueError) as err:
        display.warning("cannot load the warm module interpreter %s: %s" % (modexec_path, err))
        return None
    if modexec is None:
        return None
    return modexec, value, interpreter, modexec_path

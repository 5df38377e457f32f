# -*- coding: utf-8 -*-
# Copyright: gnt.cluster developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP001, UP004, UP009, UP010, UP031 -- Ansible plugin conventions
"""The checkpoint action (see plugins/modules/checkpoint.py for its documentation): waits on
the controller, without running anything on the node, for the coordinator's word on whether
the run goes on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

#: The first pause between two looks for the coordinator's answer, and the longest.
FIRST_POLL_S = 0.001
LONGEST_POLL_S = 0.02
#: The answer that lets the run go on; any other text stops it and is its message.
GO = "go"


def wait_for_answer(path, timeout, clock=time.monotonic, sleep=time.sleep):
    """The coordinator's answer written to ``path``, None when none came within ``timeout``
    seconds. Looks first after 1 ms, then less and less often (at most every 20 ms)."""
    deadline = clock() + timeout
    pause = FIRST_POLL_S
    while True:
        try:
            with open(path, "rb") as answer:
                return to_text(answer.read(), errors="surrogate_or_replace")
        except OSError as err:
            if not os.path.exists(os.path.dirname(path) or "."):
                raise err
        if clock() >= deadline:
            return None
        sleep(pause)
        pause = min(pause * 1.5, LONGEST_POLL_S)


class ActionModule(ActionBase):
    """Wait for the coordinator's answer at a checkpoint between two plays of a run."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "timeout"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        path = args.get("path")
        if not isinstance(path, str) or not os.path.isabs(path):
            result.update(failed=True, msg="checkpoint: path must be an absolute path, got %r"
                          % (path,))
            return result
        try:
            timeout = float(args.get("timeout", 3600))
        except (TypeError, ValueError):
            result.update(failed=True, msg="checkpoint: timeout must be a number of seconds,"
                          " got %r" % (args.get("timeout"),))
            return result
        try:
            answer = wait_for_answer(path, timeout)
        except OSError as err:
            result.update(failed=True, msg="checkpoint: cannot wait in %s: %s"
                          % (os.path.dirname(path), to_text(err)))
            return result
        if answer is None:
            result.update(failed=True, msg="checkpoint: no answer from the coordinator in %g s"
                          % timeout)
        elif answer.strip() != GO:
            result.update(failed=True, msg=answer.strip() or "checkpoint: stopped")
        else:
            result["changed"] = False
        return result

"""The executor's test double: :class:`RecordingExecutor` records plays and answers with
canned results (no Ansible), holding every play to its role's contract
(:func:`gnt.nodes.rolespecs.role_argument_errors`) and taking each play's checkpoint step
(:attr:`gnt.nodes.executor.Play.then`) as the real executor does."""

from __future__ import annotations

import threading
import time
from typing import Any

from gnt.nodes.executor import Feedback, HostResult, NodeAccess, Play, RunResult
from gnt.nodes.rolespecs import role_argument_errors


class RecordingExecutor:
    """Test double: records plays and answers with canned results (no Ansible). Every play
    is checked against its role's argument spec first: a var the role does not declare (and so
    would ignore), a missing or mistyped one, fails the test at once."""

    def __init__(self, fail_roles: dict[str, str] | None = None,
                 facts: dict[str, dict[str, Any]] | None = None,
                 delay: float = 0.0) -> None:
        self.calls: list[list[Play]] = []
        self.fail_roles = fail_roles or {}
        self.facts = facts or {}
        self.delay = delay
        self.lock = threading.Lock()

    def run(self, plays: list[Play], nodes: dict[str, NodeAccess],
            feedback: Feedback) -> RunResult:
        for play in plays:
            errors = role_argument_errors(play)
            keys = {frozenset(role_vars) for role_vars in play.hosts.values()}
            if len(keys) > 1:    # the real playbook names every key for every host
                errors.append(f"{play.role}: the hosts of one play have different vars:"
                              f" {sorted(sorted(k) for k in keys)}")
            if errors:
                raise AssertionError("play breaks its role's argument spec:\n" + "\n".join(errors))
        with self.lock:
            self.calls.append(plays)
        if self.delay:
            time.sleep(self.delay)
        hosts: dict[str, HostResult] = {}
        for index, play in enumerate(plays):
            for host in play.hosts:
                if host not in nodes:
                    raise KeyError(f"executor asked to run on unknown node {host}")
                res = hosts.setdefault(host, HostResult())
                if play.role in self.fail_roles:
                    res.ok = False
                    res.failed_task = play.role
                    res.failed_play = index
                    res.message = self.fail_roles[play.role]
                    feedback(f"{host}: {play.role}: FAILED: {res.message}")
                    return RunResult(ok=False, hosts=hosts, rc=2)
                res.facts.update(self.facts.get(play.role, {}))
                feedback(f"{host}: {play.role}: ok")
            if play.then is not None:   # the checkpoint: the run stops if the step raises
                play.then()
        return RunResult(ok=True, hosts=hosts)

    def roles(self) -> list[str]:
        """Every role run so far, in order."""
        return [play.role for plays in self.calls for play in plays]

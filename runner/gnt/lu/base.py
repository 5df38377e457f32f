"""Logical units: what each opcode does, in Ganeti's order of steps.

Every LU: check arguments -> expand names -> declare locks -> (locks taken) -> check
prerequisites against the config -> run roles through the executor -> commit config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from gnt.config.store import ConfigStore
from gnt.core.errors import ECODE_STATE, OpExecError, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_CLUSTER
from gnt.nodes.executor import Executor, NodeAccess, Play, RunResult
from gnt.nodes.nodevars import node_access

if TYPE_CHECKING:  # the job layer gives each LU its lock manager; the LU layer does not import it
    from gnt.jobs.locking import LockManager

Feedback = Callable[[str], None]


# Submits jobs (each a list of opcodes) and answers ``[[True, job id] | [False, why], ...]``.
JobSubmitter = Callable[[list[list[dict[str, Any]]]], list[list[Any]]]


@dataclass
class Context:
    """What a logical unit may use: config, locks, executor, the queue (for queries) and the
    job submitter (for :class:`ResultWithJobs`)."""

    config: ConfigStore
    locks: LockManager
    executor: Executor
    queue: Any = None
    submit_jobs: JobSubmitter | None = None


@dataclass
class ResultWithJobs:
    """What an LU returns to have the job processor submit ``jobs`` (one list of opcodes per
    job) once the LU is done, as Ganeti's LUs do for node migrate/evacuate: the opcode's result
    is ``{"jobs": [[True, job id] | [False, why], ...]}`` plus ``other``."""

    jobs: list[list[dict[str, Any]]]
    other: dict[str, Any] | None = None


class LogicalUnit:
    """Base class; subclasses set ``OP_ID`` and override the steps they need."""

    OP_ID: ClassVar[str] = ""
    # The cluster-level lock (BGL): shared for almost everything.
    BGL_SHARED: ClassVar[bool] = True
    # Levels whose locks are taken shared (others exclusive).
    SHARED_LEVELS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, ctx: Context, op: dict[str, Any], feedback: Feedback) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.op = op
        self.feedback = feedback
        # Who holds this LU's locks in the lock manager (the job id); set by the processor.
        self.lock_owner: object = None

    # -- steps -----------------------------------------------------------------------------
    def check_arguments(self) -> None:
        """Checks of the opcode alone (no config); raise OpPrereqError."""

    def expand_names(self) -> None:
        """Resolve names to config objects (errors for unknown names)."""

    def declare_locks(self) -> dict[str, list[str] | str]:
        """Lock level -> names (or ``ALL``), below the cluster level."""
        return {}

    def opportunistic_locks(self) -> dict[str, int]:
        """Levels whose declared names are taken opportunistically (those free, once at least
        the given number are): level -> minimum. None by default."""
        return {}

    def locks_acquired(self, level: str, names: list[str]) -> dict[str, list[str] | str]:
        """After an opportunistic level: the names taken there; returns changed declarations
        for the later levels."""
        return {}

    def prepare_retry(self) -> bool:
        """``check_prereq`` raised ECODE_TEMP_NORES (too little among the opportunistically
        locked nodes): make ready to run again with every lock declared, True if the unit can."""
        return False

    def check_prereq(self) -> None:
        """Checks against the config, with the locks held."""

    def exec(self) -> Any:
        """Do it; return the opcode result."""
        raise NotImplementedError

    def dry_run_plan(self) -> list[str]:
        """For ``--dry-run``: what :meth:`exec` would do, one step a line (after the checks
        passed). Units that know their steps before running them override this."""
        return []

    def report_dry_run(self) -> None:
        """``--dry-run``: the checks passed and the locks were taken; say what would be done
        (objects and nodes involved, steps) in the job log and change nothing."""
        self.log(f"Dry run: the checks of {self.OP_ID} passed; nothing was changed")
        held = self.ctx.locks.held(self.lock_owner) if self.lock_owner is not None else {}
        for level, kind in _DRY_RUN_LEVELS:
            names = sorted(self._object_name(kind, name) for name in held.get(level, {}))
            if names:
                self.log(f"  would use {level}(s): {', '.join(names)}")
        for step in self.dry_run_plan():
            self.log(f"  would {step}")

    def _object_name(self, kind: str, key: str) -> str:
        """The name of a locked object (locks may be taken by UUID or by name)."""
        if key == "all":
            return "all"
        obj = self.cfg.data.get(kind, {}).get(key)
        return str(obj["name"]) if obj else key

    # -- helpers for subclasses --------------------------------------------------------------
    def cluster_locks(self) -> tuple[list[str], bool]:
        return ["BGL"], self.BGL_SHARED

    def release_locks(self, level: str, keep: list[str] | None = None,
                      names: list[str] | None = None) -> None:
        """Give back locks of ``level`` this LU no longer needs (as Ganeti's ReleaseLocks).

        ``keep``: hold only these (also when the whole level is held); ``names``: release
        these. Neither: release the whole level. An LU run inside another LU (no lock owner
        of its own) works under its parent's locks and releases nothing.
        """
        if self.lock_owner is None:
            return
        if names is not None:
            self.ctx.locks.release_names(self.lock_owner, level, names)
        else:
            self.ctx.locks.keep_only(self.lock_owner, level, keep or [])

    def log(self, message: str) -> None:
        self.feedback(message)

    def run_plays(self, plays: list[Play], what: str) -> RunResult:
        """Run ``plays``; failure raises OpExecError naming ``what`` and the failed nodes."""
        return self.run_plays_on(plays, self.play_nodes(plays, what), what)

    def play_nodes(self, plays: list[Play], what: str) -> dict[str, NodeAccess]:
        """How the executor reaches each node of ``plays`` (read from the config); an offline
        one is a prerequisite error naming ``what``."""
        nodes: dict[str, NodeAccess] = {}
        for play in plays:
            for name in play.hosts:
                node = self.cfg.lookup("nodes", name)
                if node["offline"]:
                    raise OpPrereqError(f"Node '{name}' is offline: cannot {what}", ECODE_STATE)
                nodes[name] = node_access(self.cfg, node)
        return nodes

    def run_plays_on(self, plays: list[Play], nodes: dict[str, NodeAccess],
                     what: str) -> RunResult:
        """:meth:`run_plays` with the nodes already resolved (:meth:`play_nodes`): reads
        nothing of the config, so it need not wait for a config write in progress."""
        result = self.ctx.executor.run(plays, nodes, self.feedback)
        if not result.ok:
            raise OpExecError(f"Could not {what}:\n{result.failure_summary()}")
        return result


# Lock levels named in a dry run's report, with the config kind of their objects.
_DRY_RUN_LEVELS = (("instance", "instances"), ("nodegroup", "nodegroups"), ("node", "nodes"),
                   ("network", "networks"))

LU_REGISTRY: dict[str, type[LogicalUnit]] = {}


def register(cls: type[LogicalUnit]) -> type[LogicalUnit]:
    """Class decorator: map the LU's OP_ID to it."""
    LU_REGISTRY[cls.OP_ID] = cls
    return cls


__all__ = ["ALL", "LEVEL_CLUSTER", "Context", "LogicalUnit", "LU_REGISTRY", "register"]

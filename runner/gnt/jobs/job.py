"""A job and its opcodes: states, timestamps, log, and the job status derived from opcodes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from gnt.core.jobstate import (
    CANCELED,
    CANCELING,
    ELOG_MESSAGE,
    ERROR,
    FINALIZED,
    PRIO_NORMAL,
    QUEUED,
    REASON_SRC_OPCODE,
    RUNNING,
    SUCCESS,
    WAITING,
    Timestamp,
    now_ts,
)


@dataclass
class OpCode:
    """One opcode of a job, with its own status, result, log and timestamps."""

    input: dict[str, Any]
    status: str = QUEUED
    result: Any = None
    log: list[list[Any]] = field(default_factory=list)  # [serial, ts, type, message]
    priority: int = PRIO_NORMAL
    start_timestamp: Timestamp | None = None
    exec_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input, "status": self.status, "result": self.result, "log": self.log,
            "priority": self.priority, "start_timestamp": self.start_timestamp,
            "exec_timestamp": self.exec_timestamp, "end_timestamp": self.end_timestamp,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpCode:
        return cls(**data)

    @property
    def op_id(self) -> str:
        return str(self.input.get("OP_ID", "?"))

    def summary(self) -> str:
        """``INSTANCE_STARTUP(inst1)``-style summary as gnt-job list shows it."""
        name = self.op_id.removeprefix("OP_")
        detail = self.input.get("_summary")
        return f"{name}({detail})" if detail else name


@dataclass
class Job:
    """A job: opcodes run in order; its status derives from theirs."""

    id: int
    ops: list[OpCode]
    received_timestamp: Timestamp = field(default_factory=now_ts)
    start_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    log_serial: int = 0

    def add_reasons(self) -> None:
        """Extend each opcode's reason trail with the queue's own entry, as Ganeti does:
        ``["gnt:opcode:<name>", "job=<id>;index=<n>", <ns since the epoch>]``."""
        for index, op in enumerate(self.ops):
            name = op.op_id.lower().removeprefix("op_")
            trail = list(op.input.get("reason") or [])
            trail.append([f"{REASON_SRC_OPCODE}:{name}", f"job={self.id};index={index}",
                          time.time_ns()])
            op.input["reason"] = trail

    @property
    def priority(self) -> int:
        """The job's priority: that of its first unfinished opcode (lower runs first)."""
        for op in self.ops:
            if op.status not in FINALIZED:
                return op.priority
        return self.ops[-1].priority if self.ops else PRIO_NORMAL

    @property
    def status(self) -> str:
        """Derived from the opcodes, the way Ganeti does it."""
        status = QUEUED
        all_success = True
        for op in self.ops:
            if op.status == SUCCESS:
                continue
            all_success = False
            if op.status in (WAITING, RUNNING):
                status = op.status
            elif op.status in (CANCELING, ERROR, CANCELED):
                status = op.status
                break
        return SUCCESS if all_success else status

    def summary(self) -> list[str]:
        return [op.summary() for op in self.ops]

    def add_log(self, op: OpCode, message: Any, log_type: str = ELOG_MESSAGE) -> list[Any]:
        """Append a timestamped entry to ``op``'s log; returns the entry."""
        self.log_serial += 1
        entry = [self.log_serial, now_ts(), log_type, message]
        op.log.append(entry)
        return entry

    def log_entries(self, after_serial: int = 0) -> list[list[Any]]:
        """All log entries with a serial above ``after_serial``, in order."""
        return [entry for op in self.ops for entry in op.log if entry[0] > after_serial]

    def finalize_remaining(self, status: str, result: Any) -> None:
        """Mark every not-yet-finished opcode with ``status`` (after an error or cancel)."""
        ts = now_ts()
        for op in self.ops:
            if op.status not in FINALIZED:
                op.status = status
                op.result = result
                op.end_timestamp = ts
        self.end_timestamp = ts

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "ops": [op.to_dict() for op in self.ops],
            "received_timestamp": self.received_timestamp,
            "start_timestamp": self.start_timestamp, "end_timestamp": self.end_timestamp,
            "log_serial": self.log_serial,
        }

    def snapshot(self) -> Job:
        """A copy that later changes of this job do not reach (its own op and log lists; log
        entries, inputs and results are never changed once set, so they are shared)."""
        return replace(self, ops=[replace(op, log=list(op.log)) for op in self.ops])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        ops = [OpCode.from_dict(op) for op in data["ops"]]
        return cls(id=int(data["id"]), ops=ops, received_timestamp=data["received_timestamp"],
                   start_timestamp=data.get("start_timestamp"),
                   end_timestamp=data.get("end_timestamp"), log_serial=data.get("log_serial", 0))

    def field(self, name: str) -> Any:
        """One field as ``gnt-job list -o`` and the query protocol name them."""
        getters = {
            "id": lambda: self.id,
            "status": lambda: self.status,
            "priority": lambda: self.priority,
            "summary": self.summary,
            "ops": lambda: [op.input for op in self.ops],
            "opresult": lambda: [op.result for op in self.ops],
            "opstatus": lambda: [op.status for op in self.ops],
            "oplog": lambda: [op.log for op in self.ops],
            "opstart": lambda: [op.start_timestamp for op in self.ops],
            "opexec": lambda: [op.exec_timestamp for op in self.ops],
            "opend": lambda: [op.end_timestamp for op in self.ops],
            "oppriority": lambda: [op.priority for op in self.ops],
            "received_ts": lambda: self.received_timestamp,
            "start_ts": lambda: self.start_timestamp,
            "end_ts": lambda: self.end_timestamp,
        }
        if name not in getters:
            raise KeyError(name)
        return getters[name]()

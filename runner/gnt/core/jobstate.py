"""Job states, priorities, reason-trail sources and timestamps: what clients and the queue share."""

from __future__ import annotations

import time

# Reason trail sources (Ganeti's reason trail design): the user's --reason, the client
# command, the job queue.
REASON_SRC_USER = "gnt:user"
REASON_SRC_CLIENT = "gnt:client"
REASON_SRC_OPCODE = "gnt:opcode"

QUEUED = "queued"
WAITING = "waiting"
CANCELING = "canceling"
RUNNING = "running"
CANCELED = "canceled"
SUCCESS = "success"
ERROR = "error"
FINALIZED = (CANCELED, SUCCESS, ERROR)
STATUSES = (QUEUED, WAITING, CANCELING, RUNNING, CANCELED, SUCCESS, ERROR)

PRIO_HIGH = -10
PRIO_NORMAL = 0
PRIO_LOW = 10
PRIO_MIN, PRIO_MAX = -20, 19
PRIORITY_NAMES = {"low": PRIO_LOW, "normal": PRIO_NORMAL, "high": PRIO_HIGH}

ELOG_MESSAGE = "message"
# A remote import's signed connection information (a dict), which move-instance waits for.
ELOG_REMOTE_IMPORT = "remote-import"

Timestamp = list[int]  # [seconds, microseconds], as Ganeti stores them


def now_ts() -> Timestamp:
    """The current time as Ganeti's ``[seconds, microseconds]`` pair."""
    now = time.time()
    sec = int(now)
    return [sec, int((now - sec) * 1_000_000)]


def ts_float(ts: Timestamp | None) -> float | None:
    return None if ts is None else ts[0] + ts[1] / 1_000_000


# Ganeti's job fields and their titles (gnt-job list columns, the job query's definitions).
JOB_FIELD_TITLES = {
    "id": "ID", "status": "Status", "priority": "Priority", "archived": "Archived",
    "ops": "OpCodes", "opresult": "OpCode_result", "opstatus": "OpCode_status",
    "oplog": "OpCode_log", "opstart": "OpCode_start", "opexec": "OpCode_exec",
    "opend": "OpCode_end", "oppriority": "OpCode_prio", "summary": "Summary",
    "received_ts": "Received", "start_ts": "Start", "end_ts": "End",
}
JOB_FIELDS = tuple(JOB_FIELD_TITLES)

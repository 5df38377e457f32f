"""Query fields of jobs (Ganeti's ``/2/query/job``), read from the job queue.

The master daemon builds the rows (:class:`JobRow`), since the queue lives there; a job id
that is not found gives a row whose fields other than ``id`` are unavailable (``None``),
as Ganeti answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gnt.core.jobstate import PRIO_MAX, PRIO_MIN
from gnt.query.field import Field


@dataclass(frozen=True)
class JobRow:
    """One job of the query: its id, the job (anything with ``field(name)``, None if not
    found) and whether it was read from the archive."""

    id: int
    job: Any
    archived: bool = False


def _job(name: str) -> Callable[[JobRow], Any]:
    def get(row: JobRow) -> Any:
        return None if row.job is None else row.job.field(name)
    return get


def _ts_doc(what: str) -> str:
    return f"{what} (tuple containing seconds and microseconds)"


def job_fields() -> list[Field]:
    """Ganeti's job fields: name, title, kind and description."""
    def fld(name: str, title: str, kind: str, doc: str) -> Field:
        return Field(name, title, kind, _job(name), doc=doc, unavail=True)
    return [
        Field("id", "ID", "number", lambda r: r.id, doc="Job ID"),
        fld("status", "Status", "text", "Job status"),
        fld("priority", "Priority", "number",
            f"Current job priority ({PRIO_MAX} to {PRIO_MIN})"),
        Field("archived", "Archived", "bool",
              lambda r: None if r.job is None else r.archived,
              doc="Whether job is archived", unavail=True),
        fld("ops", "OpCodes", "other", "List of all opcodes"),
        fld("opresult", "OpCode_result", "other", "List of opcodes results"),
        fld("opstatus", "OpCode_status", "other", "List of opcodes status"),
        fld("oplog", "OpCode_log", "other", "List of opcode output logs"),
        fld("opstart", "OpCode_start", "other",
            "List of opcode start timestamps (before acquiring locks)"),
        fld("opexec", "OpCode_exec", "other",
            "List of opcode execution start timestamps (after acquiring locks)"),
        fld("opend", "OpCode_end", "other", "List of opcode execution end timestamps"),
        fld("oppriority", "OpCode_prio", "other", "List of opcode priorities"),
        fld("summary", "Summary", "other", "List of per-opcode summaries"),
        fld("received_ts", "Received", "other", _ts_doc("Timestamp of when job was received")),
        fld("start_ts", "Start", "other", _ts_doc("Timestamp of job start")),
        fld("end_ts", "End", "other", _ts_doc("Timestamp of job end")),
    ]

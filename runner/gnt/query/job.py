"""Query fields of jobs (Ganeti's ``/2/query/job``), read from the job queue.

The master daemon builds the rows (:class:`JobRow`), since the queue lives there; a job id
that is not found gives a row whose fields other than ``id`` are unavailable (``None``),
as Ganeti answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gnt.core.jobstate import JOB_FIELD_TITLES, PRIO_MAX, PRIO_MIN
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
    """Ganeti's job fields: name, title (:data:`JOB_FIELD_TITLES`), kind, description."""
    def fld(name: str, kind: str, doc: str) -> Field:
        return Field(name, JOB_FIELD_TITLES[name], kind, _job(name), doc=doc, unavail=True)
    return [
        Field("id", JOB_FIELD_TITLES["id"], "number", lambda r: r.id, doc="Job ID"),
        fld("status", "text", "Job status"),
        fld("priority", "number",
            f"Current job priority ({PRIO_MAX} to {PRIO_MIN})"),
        Field("archived", JOB_FIELD_TITLES["archived"], "bool",
              lambda r: None if r.job is None else r.archived,
              doc="Whether job is archived", unavail=True),
        fld("ops", "other", "List of all opcodes"),
        fld("opresult", "other", "List of opcodes results"),
        fld("opstatus", "other", "List of opcodes status"),
        fld("oplog", "other", "List of opcode output logs"),
        fld("opstart", "other",
            "List of opcode start timestamps (before acquiring locks)"),
        fld("opexec", "other",
            "List of opcode execution start timestamps (after acquiring locks)"),
        fld("opend", "other", "List of opcode execution end timestamps"),
        fld("oppriority", "other", "List of opcode priorities"),
        fld("summary", "other", "List of per-opcode summaries"),
        fld("received_ts", "other", _ts_doc("Timestamp of when job was received")),
        fld("start_ts", "other", _ts_doc("Timestamp of job start")),
        fld("end_ts", "other", _ts_doc("Timestamp of job end")),
    ]

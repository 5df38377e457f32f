"""gnt-job: job queue commands (list, info, watch, cancel, archive, autoarchive)."""

from __future__ import annotations

import argparse
from typing import Any

from gnt.cli import common
from gnt.cli._jobs import format_error, format_log_message, poll_job
from gnt.cli._output import format_generic_info, format_timestamp, generate_table, parse_fields
from gnt.cli._params import parse_timespec
from gnt.cli.common import add_command, stderr, stdout
from gnt.core.errors import ECODE_INVAL, GntError, OpPrereqError
from gnt.core.jobstate import JOB_FIELD_TITLES, JOB_FIELDS

LIST_DEFAULT_FIELDS = ("id", "status", "summary")
TITLES = JOB_FIELD_TITLES
NUMERIC_FIELDS = ("id", "priority")
STATUS_FILTERS = {
    "pending": ("queued", "waiting", "canceling"),
    "running": ("running",),
    "queued": ("queued",),
    "waiting": ("waiting",),
    "error": ("error",),
    "success": ("success",),
    "finished": ("success", "error", "canceled"),
}
AUTOARCHIVE_TIMEOUT = 30


def _job_ids(values: list[str]) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except ValueError as err:
            raise OpPrereqError(f"Invalid job ID '{value}'", ECODE_INVAL) from err
    return ids


def _cell(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Y" if value else "N"
    if field == "summary":
        return ",".join(map(str, value))
    if field in ("received_ts", "start_ts", "end_ts"):
        return format_timestamp(value)
    if field in ("opstart", "opexec", "opend"):
        return ",".join(format_timestamp(ts) for ts in value)
    return str(value)


def list_jobs(args: argparse.Namespace) -> int:
    """``list``: the jobs of the current queue, optionally filtered by status; fields the
    queue does not know are shown as ``??`` after a warning (exit 14, as Ganeti)."""
    fields = parse_fields(args.output, LIST_DEFAULT_FIELDS)
    unknown = [name for name in fields if name not in JOB_FIELDS]
    known = [name for name in fields if name in JOB_FIELDS]
    ids = _job_ids(args.ids)
    wanted = STATUS_FILTERS.get(args.status_filter or "")
    query_fields = known + (["status"] if wanted and "status" not in known else [])
    if not query_fields:
        query_fields = ["id"]  # one row per job even when every field is unknown
    rows = common.get_client().call("query_jobs", ids=ids, fields=query_fields) or []
    if unknown:
        stderr(f"Warning: Queried for unknown fields {', '.join(unknown)}")
    table = []
    for idx, row in enumerate(rows):
        if row is None:
            stderr(f"No such job: {ids[idx] if idx < len(ids) else '?'}")
            continue
        if wanted and row[query_fields.index("status")] not in wanted:
            continue
        table.append(["??" if field in unknown else _cell(field, row[query_fields.index(field)])
                      for field in fields])
    for line in generate_table([TITLES.get(f, f) for f in fields], table,
                               [f in NUMERIC_FIELDS for f in fields], args.separator,
                               header=not args.no_headers):
        stdout(line)
    return common.EXIT_UNKNOWN_FIELD if unknown else 0


def _delta(later: Any, earlier: Any) -> float:
    return (later[0] - earlier[0]) + (later[1] - earlier[1]) / 1_000_000


def _job_timestamp(name: str, ts: Any, prior: Any = None) -> tuple[str, str, str]:
    """A job-level timestamp entry (aligned with the other job timestamps)."""
    if ts is None:
        return (name, f"unknown ({ts})", "job_timestamp")
    delta = f" (delta {_delta(ts, prior):.6f}s)" if prior is not None else ""
    return (name, f"{format_timestamp(ts)}{delta}", "job_timestamp")


def _opcode_timestamp(name: str, ts: Any) -> tuple[str, str, str]:
    value = format_timestamp(ts) if isinstance(ts, (list, tuple)) else "N/A"
    return (name, value, "opcode_timestamp")


def _result_value(result: Any) -> Any:
    """An opcode result as Ganeti stores it (errors as ``[type, [args...]]``)."""
    if isinstance(result, dict) and result.get("type") and "args" in result:
        return [result["type"], list(result["args"])]
    return result


def _input_fields(op: dict[str, Any]) -> dict[str, Any]:
    """The opcode's own parameters (our internal ``_`` keys are not Ganeti's)."""
    return {key: value for key, value in op.items() if not str(key).startswith("_")}


INFO_FIELDS = ["id", "status", "ops", "opresult", "opstatus", "oplog", "opstart", "opexec",
               "opend", "received_ts", "start_ts", "end_ts"]


def job_info_data(job_id: Any, row: list[Any] | None) -> Any:
    """One job of ``gnt-job info`` as the ordered data Ganeti 3.0 prints (``row`` holds
    :data:`INFO_FIELDS`); a job that does not exist is a plain line."""
    if row is None:
        return f"Job ID {job_id} not found"
    (jid, status, ops, opresult, opstatus, oplog, opstart, opexec, opend,
     recv_ts, start_ts, end_ts) = row
    info: list[tuple] = [("Job ID", jid), ("Status", status),
                         _job_timestamp("Received", recv_ts),
                         _job_timestamp("Processing start", start_ts, recv_ts),
                         _job_timestamp("Processing end", end_ts, start_ts)]
    if end_ts is not None and recv_ts is not None:
        info.append(("Total processing time", f"{_delta(end_ts, recv_ts):.6f} seconds"))
    else:
        info.append(("Total processing time", "N/A"))
    opcodes = []
    for op, result, op_status, log, s_ts, x_ts, e_ts in zip(
            ops, opresult, opstatus, oplog, opstart, opexec, opend):
        log_entries = [[("Time", format_timestamp(log_ts)),
                        ("Content", (serial, log_type, format_log_message(log_type, message)))]
                       for serial, log_ts, log_type, message in log or []]
        opcodes.append([("Opcode", op.get("OP_ID")), ("Status", op_status),
                        _opcode_timestamp("Processing start", s_ts),
                        _opcode_timestamp("Execution start", x_ts),
                        _opcode_timestamp("Processing end", e_ts),
                        ("Input fields", _input_fields(op)),
                        ("Result", _result_value(result)),
                        ("Execution log", log_entries)])
    info.append(("Opcodes", opcodes))
    return info


def format_job_info(job_ids: list[Any], rows: list[Any]) -> str:
    """The ``gnt-job info`` text for the queried jobs (Ganeti 3.0's YAML layout)."""
    return format_generic_info([job_info_data(job_ids[idx] if idx < len(job_ids) else "?", row)
                                for idx, row in enumerate(rows)])


def show_jobs(args: argparse.Namespace) -> int:
    """``info``: detailed information about jobs."""
    ids = _job_ids(args.ids)
    rows = common.get_client().call("query_jobs", ids=ids, fields=INFO_FIELDS) or []
    if rows:
        stdout(format_job_info(ids, rows))
    return 0


def watch_job(args: argparse.Namespace) -> int:
    """``watch``: follow a job's log until it finishes; exit 1 if it failed."""
    (job_id,) = _job_ids([args.id])
    header = f"Output from job {job_id} follows"
    stdout(header)
    stdout("-" * len(header))
    try:
        poll_job(common.get_client(), job_id)
    except GntError as err:
        stderr(f"Job {job_id} failed: {format_error(err)[1]}")
        return 1
    return 0


def cancel_jobs(args: argparse.Namespace) -> int:
    """``cancel``: cancel jobs that have not started yet."""
    code = 0
    for job_id in _job_ids(args.ids):
        answer = common.get_client().call("cancel_job", job_id=job_id)
        ok, message = answer if isinstance(answer, (list, tuple)) else (bool(answer), "")
        if not ok:
            code = 1
        stdout(str(message))
    return code


def archive_jobs(args: argparse.Namespace) -> int:
    """``archive``: move finished jobs to the archive."""
    code = 0
    for job_id in _job_ids(args.ids):
        if not common.get_client().call("archive_job", job_id=job_id):
            stderr(f"Failed to archive job with ID '{job_id}'")
            code = 1
    return code


def autoarchive_jobs(args: argparse.Namespace) -> int:
    """``autoarchive AGE|all``: archive finished jobs older than AGE."""
    age = -1 if args.age == "all" else parse_timespec(args.age)
    archived, left = common.get_client().call("autoarchive_jobs", age=age,
                                              timeout=args.timeout)
    stdout(f"Archived {archived} jobs, {left} unchecked left")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The gnt-job argument parser."""
    parser, subs = common.new_parser("gnt-job", "Job queue administration")
    p = add_command(subs, "list", list_jobs, "List the jobs and their status")
    p.add_argument("ids", nargs="*", metavar="JOB_ID")
    p.add_argument("-o", "--output", default=None, metavar="FIELDS",
                   help="Comma separated list of output fields ('+FIELD,...' adds to the"
                   f" defaults: {','.join(LIST_DEFAULT_FIELDS)})")
    p.add_argument("--no-headers", action="store_true", help="Don't display column headers")
    p.add_argument("--separator", default=None, help="Separator between output fields")
    group = p.add_mutually_exclusive_group()
    for name in STATUS_FILTERS:
        group.add_argument(f"--{name}", dest="status_filter", action="store_const", const=name,
                           help=f"Show only {name} jobs")

    common.add_list_fields_command(subs, "job")
    p = add_command(subs, "info", show_jobs, "Show detailed information about the jobs",
                    aliases=["show"])
    p.add_argument("ids", nargs="+", metavar="JOB_ID")
    p = add_command(subs, "watch", watch_job, "Follows a job and prints its output as it"
                    " arrives")
    p.add_argument("id", metavar="JOB_ID")
    p = add_command(subs, "cancel", cancel_jobs, "Cancel the specified jobs")
    p.add_argument("ids", nargs="+", metavar="JOB_ID")
    p = add_command(subs, "archive", archive_jobs, "Archive the specified jobs")
    p.add_argument("ids", nargs="+", metavar="JOB_ID")
    p = add_command(subs, "autoarchive", autoarchive_jobs,
                    "Archive finished jobs older than the given age (e.g. 1d, 2h, all)")
    p.add_argument("age", metavar="AGE")
    p.add_argument("-t", "--timeout", type=int, default=AUTOARCHIVE_TIMEOUT, metavar="SECONDS",
                   help="Stop archiving after this many seconds")
    return parser


main = common.main_for(build_parser)

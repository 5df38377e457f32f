"""The methods of the local socket API (see :mod:`gnt.core.protocol`)."""

from __future__ import annotations

from typing import Any

from gnt import __version__
from gnt.config import drbdmap
from gnt.core.errors import ECODE_INVAL, GntError, JobLost, OpPrereqError
from gnt.core.jobstate import JOB_FIELDS
from gnt.daemon import filter_rules
from gnt.daemon.argtypes import check_call
from gnt.daemon.state import Master
from gnt.jobs import filters
from gnt.jobs.job import Job
from gnt.opcodes import params, registry, storage
from gnt.query import engine as query
from gnt.query.job import JobRow


class Handlers:
    """One instance per daemon; each public method is a protocol method."""

    def __init__(self, master: Master) -> None:
        self.master = master

    def dispatch(self, method: str, args: dict[str, Any]) -> Any:
        """Call protocol method ``method`` with ``args``, each of its declared type."""
        if not isinstance(method, str) or method.startswith("_") or method == "dispatch" \
                or not callable(getattr(self, method, None)):
            raise OpPrereqError(f"Unknown method '{method}'", ECODE_INVAL)
        if not isinstance(args, dict):
            raise OpPrereqError(f"Method '{method}': arguments must be an object, got"
                                f" {args!r}", ECODE_INVAL)
        func = getattr(self, method)
        check_call(method, func, args)
        return func(**args)

    def ping(self) -> str:
        return "pong"

    # -- jobs ------------------------------------------------------------------------------
    def submit_job(self, ops: list[dict[str, Any]], priority: int = 0) -> int:
        checked = []
        for op in ops:
            op = dict(op)
            op.setdefault("priority", priority)
            checked.append(registry.validate(op))
        return self.master.submit(checked)

    def submit_jobs(self, jobs: list[list[dict[str, Any]]], priority: int = 0) -> list[Any]:
        results: list[Any] = []
        for ops in jobs:
            try:
                results.append([True, self.submit_job(ops, priority)])
            except GntError as err:
                results.append([False, str(err)])
        return results

    def wait_for_job_change(self, job_id: int, prev_status: str | None = None,
                            prev_log_serial: int = 0, timeout: float = 30) -> dict[str, Any]:
        return self.master.queue.wait_for_change(int(job_id), prev_status, int(prev_log_serial),
                                                 min(float(timeout), 60.0))

    def query_jobs(self, ids: list[int] | None = None, fields: list[str] | None = None
                   ) -> list[Any]:
        fields = fields or ["id", "status", "summary"]
        for name in fields:
            if name not in JOB_FIELDS:
                raise OpPrereqError(f"Unknown job field '{name}'", ECODE_INVAL)
        jobs: list[Job | None]
        if ids:
            jobs = []
            for job_id in ids:
                try:
                    jobs.append(self.master.queue.get(int(job_id)))
                except (JobLost, ValueError):
                    jobs.append(None)
        else:
            jobs = list(self.master.queue.current())
        current = {job.id for job in self.master.queue.current()} \
            if "archived" in fields else set()
        return [None if job is None else
                [job.id not in current if name == "archived" else job.field(name)
                 for name in fields] for job in jobs]

    def cancel_job(self, job_id: int) -> list[Any]:
        ok, message = self.master.queue.cancel(int(job_id))
        self.master.locks.wake()
        return [ok, message]

    def archive_job(self, job_id: int) -> bool:
        return self.master.queue.archive(int(job_id))

    def autoarchive_jobs(self, age: float, timeout: float = 60) -> list[int]:
        archived, left = self.master.queue.autoarchive(float(age), float(timeout))
        return [archived, left]

    def set_drain_flag(self, drained: bool) -> bool:
        """Set or clear the drain flag here and on every online master candidate before
        answering; candidates that did not get it are in ``query_queue_info``'s
        ``unsynced``."""
        self.master.queue.set_drain(drained)
        self.master.queue_sync.push_drain()
        return True

    def query_queue_info(self) -> dict[str, Any]:
        """``drained``, and ``unsynced`` when some master candidate's copy of the queue is not
        up to date (its name -> why)."""
        info: dict[str, Any] = {"drained": self.master.queue.is_drained()}
        unsynced = self.master.queue_sync.unsynced()
        if unsynced:
            info["unsynced"] = unsynced
        return info

    # -- job filter rules (Ganeti's luxi ReplaceFilter/DeleteFilter, not opcodes) --------------
    def replace_filter(self, uuid: str | None = None, priority: Any = 0,
                       predicates: Any = None, action: Any = filters.CONTINUE,
                       reason: Any = None) -> str:
        """Add a filter rule (``uuid`` None) or replace/create the rule ``uuid``; its
        watermark is the highest job id at this moment. Returns the rule's UUID."""
        return filter_rules.replace(self.master, uuid, priority,
                                    [] if predicates is None else predicates, action,
                                    [] if reason is None else reason)

    def delete_filter(self, uuid: str) -> None:
        """Remove the filter rule ``uuid`` (ECODE_NOENT if there is none)."""
        self.master.config.remove_filter(uuid)
        self.master.scheduler.filters_changed()

    # -- queries ---------------------------------------------------------------------------
    def query(self, what: str, fields: list[str], names: list[str] | None = None,
              live: bool = True) -> dict[str, Any]:
        rows: list[Any] | None = None
        if what == "job":
            rows = self._job_rows(names or [])
        elif what == "lock":
            rows = self.master.locks.snapshot()
            if names:
                rows = [row for row in rows if row[0] in names]
        return query.query(self.master.config, what, fields, names or [], live, rows=rows)

    def _job_rows(self, names: list[str]) -> list[JobRow]:
        """The current queue's jobs, or the jobs named by id (archived ones too; an unknown
        id gives a row of unavailable fields, as Ganeti's job query; a name that is no
        number is refused)."""
        queue = self.master.queue
        if not names:
            return [JobRow(job.id, job) for job in queue.current()]
        current = {job.id for job in queue.current()}
        rows = []
        for name in names:
            try:
                job_id = int(name)
            except (TypeError, ValueError) as err:
                raise OpPrereqError(f"Invalid job ID '{name}'", ECODE_INVAL) from err
            try:
                rows.append(JobRow(job_id, queue.get(job_id), job_id not in current))
            except JobLost:
                rows.append(JobRow(job_id, None))
        return rows

    def query_fields(self, what: str) -> list[dict[str, Any]]:
        return query.field_list(what)

    def get_master(self) -> str:
        return str(self.master.config.master_node()["name"])

    def cluster_info(self) -> dict[str, Any]:
        store = self.master.config
        cluster = store.cluster()
        hvparams = {hv: params.fill(params.defaults(params.HVPARAMS[hv]),
                                    cluster["hvparams"].get(hv, {}))
                    for hv in cluster["enabled_hypervisors"] if hv in params.HVPARAMS}
        return {
            "name": cluster["cluster_name"],
            "uuid": cluster["uuid"],
            "software_version": __version__,
            "config_version": store.data["version"],
            "master": store.master_node()["name"],
            "master_netdev": cluster["master_netdev"],
            "master_ip": cluster["master_ip"],
            "architecture": cluster.get("architecture", ["64bit", "x86_64"]),
            "default_hypervisor": cluster["enabled_hypervisors"][0],
            "enabled_hypervisors": cluster["enabled_hypervisors"],
            "enabled_disk_templates": cluster["enabled_disk_templates"],
            "hvparams": hvparams,
            "beparams": {"default": params.fill(params.defaults(params.BEPARAMS),
                                                cluster["beparams"])},
            "nicparams": {"default": params.fill(params.defaults(params.NICPARAMS),
                                                 cluster["nicparams"])},
            "ndparams": params.fill(params.defaults(params.NDPARAMS), cluster["ndparams"]),
            "diskparams": params.filled_diskparams(cluster),
            "ipolicy": params.full_ipolicy(cluster),
            "osparams": cluster["osparams"],
            "candidate_pool_size": cluster["candidate_pool_size"],
            "file_storage_dir": cluster["file_storage_dir"],
            "shared_file_storage_dir": cluster["shared_file_storage_dir"],
            **{key: cluster.get(key, default) for key, default in storage.FIELD_DEFAULTS.items()},
            "mac_prefix": cluster["mac_prefix"],
            "default_iallocator": cluster.get("default_iallocator", ""),
            "maintain_node_health": cluster.get("maintain_node_health", False),
            "tags": list(cluster["tags"]),
            "ctime": cluster["ctime"],
            "mtime": cluster["mtime"],
            "serial_no": cluster["serial_no"],
            "config_serial_no": store.serial_no,
            "os_search_path": cluster.get("os_search_path", []),
        }

    def node_drbd(self, node: str) -> list[list[Any]]:
        """The DRBD minors configured on ``node`` (``gnt-node list-drbd``): rows of node name,
        minor, instance name, disk index, role (from the instance's primary node: the ends
        keep their logical_id order across failovers) and peer node name."""
        store = self.master.config
        found = store.lookup("nodes", node)
        owner = {disk: inst for inst in store.all("instances") for disk in inst["disks"]}
        names = {uuid: obj["name"] for uuid, obj in store.data["nodes"].items()}
        rows: list[list[Any]] = []
        for end in drbdmap.node_ends(store.data, found["uuid"]):
            inst = owner.get(end.disk)
            rows.append([found["name"], end.minor, inst["name"] if inst else "",
                         inst["disks"].index(end.disk) if inst else "",
                         _drbd_role(end, inst), names.get(end.peer, end.peer)])
        return rows


def _drbd_role(end: Any, instance: dict[str, Any] | None) -> str:
    """``primary`` on the instance's primary node, else ``secondary`` (the logical_id's own
    order for an end without an instance)."""
    if instance is None:
        return str(end.role)
    return "primary" if instance["primary_node"] == end.node else "secondary"

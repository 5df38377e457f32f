"""OP_INSTANCE_MULTI_ALLOC (RAPI ``/2/instances-multi-alloc``): place several new instances
in one allocator run (Ganeti's multi-allocate mode, so they see each other's room), then one
creation job per placed instance, as Ganeti's LU submits them."""

from __future__ import annotations

from typing import Any

from gnt import iallocator as ia
from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.locklevels import ALL, LEVEL_NODE
from gnt.core.units import UnitError, parse_size_mib
from gnt.lu import placement
from gnt.lu.base import LogicalUnit, ResultWithJobs, register
from gnt.opcodes import params
from gnt.opcodes.registry import validate

CREATE = "OP_INSTANCE_CREATE"


@register
class LUInstanceMultiAlloc(LogicalUnit):
    """Allocate nodes for several instances at once and submit their creation jobs."""

    OP_ID = "OP_INSTANCE_MULTI_ALLOC"
    SHARED_LEVELS = frozenset({LEVEL_NODE})

    def check_arguments(self) -> None:
        self.creates: list[dict[str, Any]] = []
        if not self.op["instances"]:
            raise OpPrereqError("No instances to allocate", ECODE_INVAL)
        for index, inst in enumerate(self.op["instances"]):
            fields = {key: value for key, value in inst.items() if key != "OP_ID"}
            try:
                self.creates.append(validate({**fields, "OP_ID": CREATE}))
            except OpPrereqError as err:
                raise OpPrereqError(f"Instance {index} of the allocation: {err}",
                                    ECODE_INVAL) from err
        names = [op["instance_name"] for op in self.creates]
        dupes = sorted({name for name in names if names.count(name) > 1})
        if dupes:
            raise OpPrereqError(f"Instance names given twice: {', '.join(dupes)}", ECODE_INVAL)
        placed = [op["instance_name"] for op in self.creates if op.get("pnode")]
        if placed and (self.op["iallocator"] or len(placed) != len(self.creates)):
            raise OpPrereqError("Either every instance names its node, or none does (the"
                                f" allocator places them); with nodes: {', '.join(placed)}",
                                ECODE_INVAL)

    def declare_locks(self) -> dict[str, list[str] | str]:
        return {LEVEL_NODE: ALL}

    def _request(self, op: dict[str, Any]) -> dict[str, Any]:
        be = params.fill(params.filled_beparams(self.cfg.cluster(), {"beparams": {}}),
                         params.check_beparams(op["beparams"]))
        try:
            sizes = [parse_size_mib(disk.get("size")) for disk in op["disks"]]
        except UnitError as err:
            raise OpPrereqError(f"Instance {op['instance_name']}: {err}", ECODE_INVAL) from err
        return ia.request_allocate(op["instance_name"], int(be["maxmem"]), sizes,
                                   op["disk_template"] or params.DT_FILE,
                                   vcpus=int(be["vcpus"]), nics=op["nics"] or [{}],
                                   os=op["os_type"] or "", tags=op["tags"])

    def exec(self) -> Any:
        if all(op.get("pnode") for op in self.creates):
            allocatable = [op["instance_name"] for op in self.creates]
            failed: list[str] = []
            jobs = [[op] for op in self.creates]
        else:
            allocator = placement.allocator_name(self, self.op["iallocator"])
            request = ia.request_multi_allocate([self._request(op) for op in self.creates])
            answer = ia.run_iallocator(allocator, placement.cluster_request(self, request))
            nodes = dict(answer.allocated)
            failed = [name for name, _why in answer.failed]
            for name, why in answer.failed:
                self.log(f"Instance {name} cannot be placed: {why}")
            allocatable, jobs = [], []
            for op in self.creates:
                if op["instance_name"] in nodes:
                    allocatable.append(op["instance_name"])
                    chosen = nodes[op["instance_name"]]
                    self.log(f"Selected node {chosen[0]} for instance {op['instance_name']}"
                             f" (iallocator {allocator})")
                    jobs.append([{**op, "pnode": chosen[0], "iallocator": None,
                                  "_summary": op["instance_name"]}])
        return ResultWithJobs(jobs, other={"allocatable": allocatable, "failed": failed})

"""What the instance policy unit tests share: small and large complete specs, job outcomes and
Ganeti's refusals (ECODE_INVAL, nothing changed)."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS

# A complete min spec and two max specs (every ispec parameter), in MiB where sizes.
SPEC = {"memory-size": 64, "cpu-count": 1, "disk-count": 1, "disk-size": 32,
        "nic-count": 0, "spindle-use": 0}
BIG = {"memory-size": 1024, "cpu-count": 4, "disk-count": 4, "disk-size": 4096,
       "nic-count": 4, "spindle-use": 8}
SMALL_MAX = {"memory-size": 512, "cpu-count": 2, "disk-count": 2, "disk-size": 2048,
             "nic-count": 2, "spindle-use": 4}
# Bounds that refuse a 1 GiB instance (memory 64..512 MiB, disks 32 MiB..2 GiB).
SMALL = [{"min": SPEC, "max": SMALL_MAX}]


def ok(job: Any) -> Any:
    """The first op of a job that must have succeeded."""
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job.ops[0]


def failed(job: Any) -> str:
    """The message of a job refused with ECODE_INVAL."""
    assert job.status == ERROR, job.ops[0].log
    result = job.ops[0].result
    assert result["args"][1] == ECODE_INVAL, result
    return str(result["args"][0])


def refused(cluster: Any, op_id: str, **params: Any) -> str:
    """The message of an op refused before queueing (the opcode's parameter check, nothing
    queued) or by its logical unit (a failed job); ECODE_INVAL either way."""
    try:
        job_id = cluster.submit(op_id, **params)
    except OpPrereqError as err:
        assert err.args[1] == ECODE_INVAL
        return str(err.args[0])
    return failed(cluster.wait(job_id))


def refused_untouched(cluster: Any, op_id: str, **params: Any) -> str:
    """The message of a job that must be refused with the config and the nodes untouched."""
    store = cluster.master.config
    serial, calls = store.serial_no, len(cluster.executor.calls)
    message = failed(cluster.run(op_id, **params))
    assert store.serial_no == serial and len(cluster.executor.calls) == calls
    return message


def cluster_policy_refused(cluster: Any, ipolicy: dict[str, Any], text: str) -> None:
    """gnt-cluster modify with this policy is refused naming ``text``; nothing changes."""
    config = cluster.master.config
    serial = config.serial_no
    assert text in refused(cluster, "OP_CLUSTER_SET_PARAMS", ipolicy=ipolicy)
    assert config.serial_no == serial and not config.cluster().get("ipolicy")


def group(cluster: Any, name: str = "default") -> dict[str, Any]:
    """A node group's config object by name."""
    return next(g for g in cluster.master.config.all("nodegroups") if g["name"] == name)


def warned(op: Any, text: str) -> bool:
    """Whether the op's log holds a line with ``text``."""
    return any(text in str(line) for line in op.log)

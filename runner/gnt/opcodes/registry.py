"""The opcode registry: every area's definitions, and validation of an opcode before queueing."""

from __future__ import annotations

from typing import Any

from gnt.core.errors import ECODE_INVAL, OpPrereqError
from gnt.core.jobstate import PRIO_MAX, PRIO_MIN
from gnt.opcodes import backup, base, disks, group, network, node
from gnt.opcodes.base import COMMON, OpDef, check_tag

OPCODES: dict[str, OpDef] = {}


def register_opdefs(defs: list[OpDef]) -> None:
    """Add opcode definitions to :data:`OPCODES` (one module per area)."""
    for opdef in defs:
        for param in COMMON + opdef.params:
            opdef.by_name[param.name] = param
        OPCODES[opdef.op_id] = opdef


register_opdefs(base.DEFS + node.DEFS + group.DEFS + backup.DEFS + disks.DEFS + network.DEFS)


def validate(op: dict[str, Any]) -> dict[str, Any]:
    """Check an opcode dict against its definition; return it with defaults filled in.

    Raises :class:`OpPrereqError` naming the opcode and the bad or missing parameter.
    """
    if not isinstance(op, dict):
        raise OpPrereqError(f"Invalid opcode {op!r}: not an object", ECODE_INVAL)
    op_id = op.get("OP_ID")
    opdef = OPCODES.get(str(op_id))
    if opdef is None:
        raise OpPrereqError(f"Unknown opcode '{op_id}'", ECODE_INVAL)
    result: dict[str, Any] = {"OP_ID": op_id}
    for key in op:
        if key not in opdef.by_name and key not in ("OP_ID", "_summary", "depends"):
            raise OpPrereqError(f"{op_id}: unknown parameter '{key}'", ECODE_INVAL)
    for param in opdef.by_name.values():
        if param.name in op and op[param.name] is not None:
            value = op[param.name]
            if not param.check(value):
                expected = getattr(param.check, "__name__", "").removeprefix("t_")
                raise OpPrereqError(f"{op_id}: parameter '{param.name}' has invalid value"
                                    f" {value!r} (expected {expected})", ECODE_INVAL)
            result[param.name] = value
        elif param.required:
            raise OpPrereqError(f"{op_id}: required parameter '{param.name}' is missing",
                                ECODE_INVAL)
        else:
            default = param.default
            result[param.name] = list(default) if isinstance(default, list) else (
                dict(default) if isinstance(default, dict) else default)
    if not PRIO_MIN <= result["priority"] <= PRIO_MAX:
        raise OpPrereqError(f"{op_id}: priority {result['priority']} outside"
                            f" {PRIO_MIN}..{PRIO_MAX}", ECODE_INVAL)
    if op_id in ("OP_TAGS_SET", "OP_TAGS_DEL"):
        for tag in result["tags"]:
            check_tag(tag)
    if opdef.summary and result.get(opdef.summary):
        result["_summary"] = result[opdef.summary]
    return result

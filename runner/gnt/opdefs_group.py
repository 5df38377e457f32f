"""Opcode definitions for node groups (gnt-group)."""

from __future__ import annotations

from .opcodes import OpDef

DEFS: list[OpDef] = [
]

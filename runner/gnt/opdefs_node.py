"""Opcode definitions for nodes (add, remove, modify, migrate, evacuate) and the cluster's multi-node operations."""

from __future__ import annotations

from .opcodes import OpDef

DEFS: list[OpDef] = [
]

"""Logical units of nodes (gnt-node add, remove, modify, ...)."""

from __future__ import annotations

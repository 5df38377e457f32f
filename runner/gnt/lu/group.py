"""Logical units of node groups (gnt-group)."""

from __future__ import annotations

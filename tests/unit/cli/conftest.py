"""Fixtures of the gnt-* CLI tests (the fake daemon client lives in gntcli_fakes)."""

from __future__ import annotations

from gntcli_fakes import fake

__all__ = ["fake"]  # the fixture, re-exported for pytest

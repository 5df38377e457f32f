"""Fixtures of the gnt-* CLI tests (the fake daemon client lives in gntcli_fakes)."""

from __future__ import annotations

from gntcli_fakes import fake  # noqa: F401 - the fixture, re-exported for pytest

"""Every console script pyproject.toml declares resolves to a callable entry point."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def _scripts() -> dict[str, str]:
    with PYPROJECT.open("rb") as handle:
        return dict(tomllib.load(handle)["project"]["scripts"])


def test_some_scripts_are_declared() -> None:
    assert "gnt-cluster" in _scripts()


@pytest.mark.parametrize("script", sorted(_scripts()))
def test_declared_script_imports_its_entry_point(script: str) -> None:
    module_name, _sep, attr = _scripts()[script].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attr)), f"{script}: {module_name}:{attr} is not callable"

"""ansible-lint on the production profile (configured in .ansible-lint) and the changelog's
own lint: the roles, playbooks and collection metadata pass clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str) -> Path:
    tool = BIN / name
    if not tool.exists():
        pytest.skip(f"{name} is not installed (scripts/setup.sh --test installs it)")
    return tool


def test_ansible_lint_production_profile(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               ANSIBLE_HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = subprocess.run([str(_tool("ansible-lint")), "--nocolor", "-q"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]


def test_changelog_is_valid() -> None:
    proc = subprocess.run([str(_tool("antsibull-changelog")), "lint-changelog-yaml",
                           str(REPO / "changelogs/changelog.yaml")], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""Packaging (issue 13): the collection tarball holds no caches or build debris and installs
with ansible-galaxy, its modules are then found by Ansible, and the execution environment
definition is accepted by ansible-builder (``create``: no container engine needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEBRIS = ("__pycache__", ".pyc", ".ruff_cache", ".mypy_cache", ".pytest_cache", ".hypothesis",
          ".egg-info", ".venv/", "tests/output")


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("galaxy")
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path",
                           str(out), str(REPO)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = out.glob("gnt-cluster-*.tar.gz")
    return built


def test_tarball_holds_no_debris(tarball: Path) -> None:
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "LICENSE" in names and "meta/runtime.yml" in names
    assert "plugins/inventory/rapi.py" in names and "playbooks/instance_lifecycle.yml" in names
    bad = [name for name in names if any(mark in name for mark in DEBRIS)]
    assert bad == [], bad


def test_installed_collection_is_usable(tarball: Path, tmp_path: Path) -> None:
    target = tmp_path / "collections"
    env = dict(os.environ, ANSIBLE_HOME=str(tmp_path / "home"))
    # --force: this machine's own checkout is linked on the default collections path
    proc = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force",
                           str(tarball), "-p", str(target)], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    env["ANSIBLE_COLLECTIONS_PATH"] = str(target)
    for kind, name in (("module", "gnt.cluster.instance"), ("inventory", "gnt.cluster.rapi"),
                       ("module", "gnt.cluster.file_disk")):
        doc = subprocess.run([str(BIN / "ansible-doc"), "-t", kind, name], capture_output=True,
                             text=True, env=env, check=False)
        assert doc.returncode == 0 and name.rsplit(".", maxsplit=1)[-1] in doc.stdout, doc.stderr


def test_execution_environment_definition(tarball: Path, tmp_path: Path) -> None:
    builder = BIN / "ansible-builder"
    if not builder.exists():
        pytest.skip("ansible-builder is not installed (scripts/setup.sh --test installs it)")
    (tmp_path / "meta").mkdir()
    for name in ("execution-environment.yml", "ee-requirements.yml"):
        shutil.copy(REPO / "meta" / name, tmp_path / "meta" / name)
    shutil.copy(tarball, tmp_path / tarball.name)
    proc = subprocess.run([str(builder), "create", "-f",
                           str(tmp_path / "meta/execution-environment.yml"), "-c",
                           str(tmp_path / "context"), "--output-filename", "Containerfile"],
                          capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context/Containerfile").read_text()
    assert "ansible-core==2.19.14" in containerfile
    assert (tmp_path / "context/_build/collections" / tarball.name).exists()

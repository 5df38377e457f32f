"""The collection passes ``ansible-test sanity`` (every test ansible-core 2.19 runs locally),
with no ignore file. The older ansible-core lines the collection claims are in
test_ansible_test_sanity_versions.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from ansible_versions import collection_tree, findings, home_for, prepare_home, run_sanity

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.timeout(1800)
def test_ansible_test_sanity(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed: ansible-test lists collection files through git")
    # ansible-test keeps the venvs of its tests' requirements under $HOME: a private one per
    # ansible-core version in the root-owned cache (reused between runs), else a fresh one
    # under the test's temporary directory; never the checkout or a shared path.
    home = prepare_home(home_for(None, tmp_path / "home"), BIN)
    target = collection_tree(REPO, tmp_path / "tree")
    proc = run_sanity(BIN, target, home)
    assert proc.returncode == 0, findings(proc)
    assert not (target / "tests/sanity/ignore-2.19.txt").exists()

"""The collection passes ``ansible-test sanity`` (every test ansible-core 2.19 runs locally),
with no ignore file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _pip_version() -> str:
    from ansible_test._internal import python_requirements as req

    source = Path(req.__file__).read_text()
    marker = "pip='"
    start = source.index(marker) + len(marker)
    return source[start:source.index("'", start)]


def _collection_tree(dest: Path) -> Path:
    """Copy the files git knows (tracked and untracked-unignored) to an ansible_collections
    layout, as a git repo of its own (ansible-test lists files through git)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           check=True, capture_output=True, text=True).stdout.split("\n")
    target = dest / "ansible_collections" / "gnt" / "cluster"
    for name in filter(None, files):
        src = REPO / name
        if not src.is_file():
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target / name, follow_symlinks=False)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    return target


@pytest.mark.timeout(1800)
def test_ansible_test_sanity(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed: ansible-test lists collection files through git")
    # ansible-test keeps its venvs and caches under $HOME: a fresh one per run, under the test's
    # temporary directory, so a run writes nothing into the checkout or a shared path.
    home = tmp_path / "home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("get_pip_standin.py"),
                cache / f"get_pip_{_pip_version().replace('.', '_')}.py")
    target = _collection_tree(tmp_path / "tree")
    env = dict(os.environ, HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run([str(BIN / "ansible-test"), "sanity", "--python", "3.11", "--color",
                           "no"], cwd=target, env=env, capture_output=True, text=True, check=False)
    findings = [line for line in (proc.stdout + proc.stderr).splitlines()
                if line.startswith(("ERROR", "FATAL"))]
    assert proc.returncode == 0, "\n".join(findings) or proc.stdout[-5000:] + proc.stderr[-5000:]
    assert not (target / "tests/sanity/ignore-2.19.txt").exists()

"""Run the collection's real module files through ``ansible`` ad-hoc on localhost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ANSIBLE = Path(sys.executable).with_name("ansible")


@pytest.fixture(scope="session")
def ansible_env(tmp_path_factory):
    """Environment for ansible: this checkout as gnt.cluster, private ANSIBLE_HOME."""
    base = tmp_path_factory.mktemp("ansible")
    link = base / "collections" / "ansible_collections" / "gnt" / "cluster"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(base / "collections"),
        ANSIBLE_HOME=str(base / "home"),
        ANSIBLE_LOCAL_TEMP=str(base / "tmp"),
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_PIPELINING="True",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_STDOUT_CALLBACK="default",
    )
    return env


@pytest.fixture
def run_module(ansible_env):
    """``run_module(name, args, check=False) -> (ok, result)`` for ``gnt.cluster.<name>``."""

    def run(name, args, check=False):
        cmd = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local",
               "-e", f"ansible_python_interpreter={sys.executable}",
               "-m", f"gnt.cluster.{name}", "-a", json.dumps(args)]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, env=ansible_env, capture_output=True, text=True,
                              check=False, timeout=300)
        out = proc.stdout
        marker = out.find(" => ")
        assert marker >= 0, f"no result from ansible:\n{out}\n{proc.stderr}"
        result = json.loads(out[marker + 4:])
        status = out[:marker]
        ok = "FAILED" not in status and "UNREACHABLE" not in status
        assert ok == (proc.returncode == 0), (out, proc.stderr)
        return ok, result

    return run

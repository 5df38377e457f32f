"""Run the collection's real module files: in-process (fast; what a node runs, without
Ansible's transport) or through ``ansible`` ad-hoc on localhost."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

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


def run_in_process(name: str, args: dict, check: bool = False, diff: bool = False
                   ) -> tuple[bool, dict]:
    """Run module ``gnt.cluster.<name>`` in this process, as Ansible would on a node: its
    arguments through AnsibleModule, its JSON result from stdout, failure from exit status.
    ``check`` and ``diff`` run it in check mode and diff mode."""
    module = importlib.import_module(f"ansible_collections.gnt.cluster.plugins.modules.{name}")
    module_args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
    out = io.StringIO()
    cwd = os.getcwd()
    code: object = None
    with patch_module_args(module_args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit as exit_:
            code = exit_.code
        else:
            raise AssertionError(f"module {name} returned without exit_json/fail_json")
    os.chdir(cwd)
    result = json.loads(out.getvalue())
    ok = not result.get("failed", False)
    assert ok == (code in (0, None)), (code, result)
    return ok, result


def run_through_ansible(env: dict, name: str, args: dict, check: bool = False
                        ) -> tuple[bool, dict]:
    """Run module ``gnt.cluster.<name>`` through ``ansible`` ad-hoc on localhost."""
    cmd = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={sys.executable}",
           "-m", f"gnt.cluster.{name}", "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    out = proc.stdout
    marker = out.find(" => ")
    assert marker >= 0, f"no result from ansible:\n{out}\n{proc.stderr}"
    result = json.loads(out[marker + 4:])
    status = out[:marker]
    ok = "FAILED" not in status and "UNREACHABLE" not in status
    assert ok == (proc.returncode == 0), (out, proc.stderr)
    return ok, result


@pytest.fixture
def run_module():
    """``run_module(name, args, check=False, diff=False) -> (ok, result)`` for
    ``gnt.cluster.<name>``, in-process (tests/unit/modules/test_modules_through_ansible.py
    runs each module through Ansible itself once)."""
    return run_in_process


@pytest.fixture
def run_module_ansible(ansible_env):
    """Like ``run_module``, through ``ansible`` ad-hoc (argument handling, packaging)."""
    return lambda name, args, check=False: run_through_ansible(ansible_env, name, args, check)

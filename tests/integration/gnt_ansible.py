"""Shared scaffolding of the tests that run the collection's modules and roles directly
through ``ansible``/``ansible-playbook`` on localhost against the real libvirt."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gnt_clusterenv import libvirt_skip_reason

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).with_name("ansible")
PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
URI = "qemu:///system"

PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: gnt.cluster.{role}
    - name: Dump what the role published
      ansible.builtin.copy:
        content: "{{{{ {{'gnt_node_info': gnt_node_info | default(None),
                       'gnt_domain': gnt_domain | default(None)}} | to_json }}}}"
        dest: "{out}"
        mode: "0644"
      changed_when: false
"""


def ansible_env(base: Path) -> dict[str, str]:
    """Environment for ansible runs with the collection linked under ``base``; skips the
    test when libvirt is not usable here."""
    problem = libvirt_skip_reason()
    if problem:
        pytest.skip(problem)
    link = base / "collections" / "ansible_collections" / "gnt" / "cluster"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(REPO)
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(base / "collections"),
                ANSIBLE_HOME=str(base / "home"), ANSIBLE_LOCAL_TEMP=str(base / "tmp"),
                ANSIBLE_DEPRECATION_WARNINGS="False", ANSIBLE_NOCOLOR="1",
                ANSIBLE_PIPELINING="True", ANSIBLE_RETRY_FILES_ENABLED="False")


def run_module(env: dict[str, str], module: str, args: dict, check: bool = False
               ) -> tuple[bool, dict]:
    """Run ``gnt.cluster.<module>`` through ad-hoc ``ansible``; return (ok, result)."""
    cmd = [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local",
           "-e", f"ansible_python_interpreter={sys.executable}",
           "-m", f"gnt.cluster.{module}", "-a", json.dumps(args)] + (["--check"] if check else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    marker = proc.stdout.find(" => ")
    assert marker >= 0, proc.stdout + proc.stderr
    return proc.returncode == 0, json.loads(proc.stdout[marker + 4:])


class RoleRunner:
    """Runs one role per ansible-playbook call; returns the recap counts and the facts the
    role published (``gnt_node_info``, ``gnt_domain``)."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir, self.count = env, workdir, 0

    def __call__(self, role: str, variables: dict, check: bool = False,
                 expect_ok: bool = True) -> dict:
        self.count += 1
        out = self.workdir / f"out{self.count}.json"
        play = self.workdir / f"play{self.count}.yml"
        play.write_text(PLAY.format(role=role, out=out))
        varfile = self.workdir / f"vars{self.count}.json"
        varfile.write_text(json.dumps(dict(variables,
                                           ansible_python_interpreter=sys.executable)))
        cmd = [str(PLAYBOOK), "-i", "localhost,", str(play), "-e", f"@{varfile}"]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              check=False, timeout=600)
        recap = re.search(r"localhost\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+"
                          r"failed=(\d+)", proc.stdout)
        assert recap, proc.stdout + proc.stderr
        ok = proc.returncode == 0
        assert ok == expect_ok, f"{role}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        published = json.loads(out.read_text()) if out.exists() else {}
        return {"changed": int(recap.group(2)), "failed": int(recap.group(4)),
                "stdout": proc.stdout, **published}


MODULE_PLAY = """\
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run the module
      gnt.cluster.{module}: {args}
      check_mode: {check}
      diff: {diff}
      register: gnt_result
      ignore_errors: true
    - name: Dump its result
      ansible.builtin.copy:
        content: "{{{{ gnt_result | to_json }}}}"
        dest: "{out}"
        mode: "0600"
      check_mode: false
      diff: false
"""


def run_module_play(env: dict[str, str], workdir: Path, module: str, args: dict,
                    check: bool = False, diff: bool = False) -> tuple[bool, dict]:
    """Run ``gnt.cluster.<module>`` as a playbook task (``check_mode``/``diff`` as given) and
    return (ok, its registered result) - the result includes the ``diff`` the module
    returned, which ad-hoc ``ansible`` leaves out of its output."""
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{module}-{len(list(workdir.glob('*.yml')))}"
    out, play = workdir / f"{stem}.json", workdir / f"{stem}.yml"
    play.write_text(MODULE_PLAY.format(module=module, args=json.dumps(args), out=out,
                                       check=str(check).lower(), diff=str(diff).lower()))
    proc = subprocess.run([str(PLAYBOOK), "-i", "localhost,", str(play), "-e",
                           f"ansible_python_interpreter={sys.executable}"], env=env,
                          capture_output=True, text=True, check=False, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    return not result.get("failed", False), result

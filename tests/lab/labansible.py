"""Run one of the collection's roles with ansible-playbook from inside a lab node.

As docs/lab.md ("Ansible from inside node1") describes: the playbook runs in an SSH session
on the node (``ansible_connection=local`` for that node), with the collection linked from this
checkout and every Ansible directory inside the lab directory. The role's ``gnt_*`` facts are
dumped to a JSON file and returned, like the coordinator's executor collects them.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

PLAY = """\
- hosts: {host}
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: gnt.cluster.{role}
    - name: Dump the gnt_* facts the role set
      ansible.builtin.copy:
        content: "{{{{ hostvars[inventory_hostname] | dict2items
                      | selectattr('key', 'match', 'gnt_.*_result$|gnt_domain$')
                      | items2dict | to_json }}}}"
        dest: "{out}"
        mode: "0644"
      changed_when: false
"""


@dataclass
class RoleRun:
    """Outcome of one role run: return code, published facts, failure message, output."""

    rc: int
    facts: dict[str, Any] = field(default_factory=dict)
    msg: str = ""
    stdout: str = ""

    @property
    def ok(self) -> bool:
        """True when ansible-playbook succeeded."""
        return self.rc == 0


def _workdir(lab: Any) -> Path:
    base = lab.dir / "ansible"
    link = base / "collections" / "ansible_collections" / "gnt" / "cluster"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO)
    return base


def run_role(lab: Any, node: str, role: str, variables: dict[str, Any],
             check: bool = False, timeout: float = 600.0) -> RoleRun:
    """Run ``gnt.cluster.<role>`` on ``node`` (from inside it) with ``variables``."""
    base = _workdir(lab)
    runs = sorted(base.glob("play*.yml"))
    tag = f"{len(runs) + 1:03d}"
    out, play, varfile, inventory = (base / f"out{tag}.json", base / f"play{tag}.yml",
                                     base / f"vars{tag}.json", base / "inventory")
    out.unlink(missing_ok=True)
    inventory.write_text("".join(
        f"{n.name} ansible_host={n.address}" + (" ansible_connection=local" if n.name == node
                                                else "") + "\n" for n in lab.nodes))
    play.write_text(PLAY.format(host=node, role=role, out=out))
    varfile.write_text(json.dumps(dict(variables, ansible_python_interpreter=sys.executable)))
    env = {"ANSIBLE_COLLECTIONS_PATH": base / "collections", "ANSIBLE_HOME": base / "home",
           "ANSIBLE_LOCAL_TEMP": base / "tmp", "ANSIBLE_REMOTE_TMP": base / "rtmp",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": base / "cp", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_DEPRECATION_WARNINGS": "False", "ANSIBLE_RETRY_FILES_ENABLED": "False",
           "ANSIBLE_PIPELINING": "True", "ANSIBLE_HOST_KEY_CHECKING": "False"}
    command = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
    command += (f" {shlex.quote(str(Path(sys.executable).with_name('ansible-playbook')))}"
                f" -i {inventory} {play} -e @{varfile}" + (" --check" if check else ""))
    proc = lab.ssh(node, command, check=False, timeout=timeout)
    facts = json.loads(out.read_text()) if out.exists() else {}
    msg = ""
    failed = re.search(r"FAILED! => (\{.*\})\s*$", proc.stdout, re.M)
    if failed:
        try:
            msg = json.loads(failed.group(1)).get("msg", "")
        except ValueError:
            msg = failed.group(1)
    return RoleRun(proc.returncode, facts, msg, proc.stdout + proc.stderr)

"""hvparam migration_downtime reaches gnt.cluster.domain_migrate (issue 10): through the
module's hvparams option and through the instance_migrate role (gnt_instance.hvparams), run
by real ansible on localhost. A bad value is refused naming it before libvirt is contacted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
DEST = "qemu+tcp://127.0.0.1:1/system"


def test_module_refuses_a_bad_migration_downtime(run_module):
    ok, result = run_module("domain_migrate", {"name": "i1", "dest_uri": DEST,
                                               "hvparams": {"migration_downtime": "soon"}})
    assert not ok
    assert result["msg"] == ("domain i1: hvparam migration_downtime must be an integer"
                             " (milliseconds), got 'soon'")
    ok, result = run_module("domain_migrate", {"name": "i1", "dest_uri": DEST,
                                               "hvparams": {"migration_downtime": 0}})
    assert not ok and "migration_downtime must be a positive number" in result["msg"]


def test_role_passes_the_instance_hvparams(ansible_env, tmp_path):
    """The role hands gnt_instance.hvparams to the module: a bad migration_downtime there
    fails the play with the module's message (it was ignored before)."""
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.include_role": {"name": "gnt.cluster.instance_migrate"},
        "vars": {"gnt_instance": {"name": "gnt-no-such-domain",
                                  "hvparams": {"migration_downtime": -3}},
                 "gnt_node": {}, "gnt_migration": {"target_uri": DEST}}}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local",
                           "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)],
                          env=ansible_env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode != 0
    assert ("domain gnt-no-such-domain: hvparam migration_downtime must be a positive number"
            " of milliseconds, got -3") in proc.stdout, proc.stdout + proc.stderr

"""The node roles that replaced shell commands of the coordinator, run for real through
ansible-playbook on localhost: node_ssh_keys, node_leave, export_place, export_remove.
Each changes what it must, nothing else, and a rerun changes nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gnt.nodes.runfiles import dump_yaml

PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


@pytest.fixture
def play(ansible_env, tmp_path):
    """``play(role, vars, env) -> changed count`` (fails the test when the play fails). The
    vars reach Ansible as the executor hands them over: an inventory of ``!unsafe`` data."""

    def run(role: str, role_vars: dict[str, Any], **env: str) -> int:
        book = tmp_path / f"{role}.yml"
        book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": f"gnt.cluster.{role}"}]}]))
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(dump_yaml({"all": {"hosts": {"localhost": role_vars}}},
                                       data_only=True))
        proc = subprocess.run([str(PLAYBOOK), "-i", str(inventory), "-c", "local", "-e",
                               f"ansible_python_interpreter={sys.executable}", str(book)],
                              env={**ansible_env, **env}, capture_output=True, text=True,
                              check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        return int(re.search(r"changed=(\d+)", proc.stdout).group(1))

    return run


def test_node_ssh_keys_installs_the_pair_once(play, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    private = tmp_path / "cluster_key"
    private.write_bytes(b"PRIVATE\n")
    keys = ["ssh-ed25519 AAAAcluster gnt-cluster", "ssh-ed25519 AAAAmaster root@master",
            "ssh-ed25519 AAAA'; touch /tmp/x; ' {{ lookup('pipe', 'id') }}"]
    ssh_dir = home / ".ssh"
    spec = {"gnt_ssh_keys": {"ssh_dir": str(ssh_dir), "key_name": "gnt_key",
                             "private_key_src": str(private), "public_key": keys[0],
                             "authorized_keys": keys}}
    assert play("node_ssh_keys", spec) > 0
    assert (ssh_dir / "authorized_keys").read_text().splitlines() == keys    # kept literally
    assert (ssh_dir / "gnt_key").read_bytes() == b"PRIVATE\n"
    assert oct(os.stat(ssh_dir / "gnt_key").st_mode & 0o777) == "0o600"
    assert oct(os.stat(ssh_dir).st_mode & 0o777) == "0o700"
    assert (ssh_dir / "gnt_key.pub").read_text().strip() == keys[0]
    assert play("node_ssh_keys", spec) == 0


def test_node_leave_forgets_only_the_cluster_files(play, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("config.data", "config.data.prev", "ssconf_master_node", "known_hosts",
                 "other-file"):
        (data / name).write_text("x")
    spec = {"gnt_node_leave": {"data_dir": str(data)}}
    assert play("node_leave", spec) == 1
    assert sorted(os.listdir(data)) == ["other-file"]
    assert play("node_leave", spec) == 0
    assert play("node_leave", {"gnt_node_leave": {"data_dir": str(tmp_path / "none")}}) == 0


def test_export_place_and_remove(play, tmp_path):
    root = tmp_path / "export"
    new = root / ".inst1.new-abc"
    new.mkdir(parents=True)
    (new / "disk0.dump").write_bytes(b"NEW")
    config = "[export]\nname = {{ lookup('pipe', 'id') }}\n"
    place = {"gnt_export_place": {"path": str(root / "inst1"), "source": str(new),
                                  "config": config, "export_root": str(root)}}
    assert play("export_place", place) == 1
    assert (root / "inst1" / "config.ini").read_text() == config
    assert play("export_place", place) == 0
    remove = {"gnt_export_remove": {"paths": [str(root / "inst1"), str(root / ".gone")],
                                    "export_root": str(root)}}
    assert play("export_remove", remove) == 1
    assert os.listdir(root) == []

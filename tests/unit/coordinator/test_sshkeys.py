"""The cluster SSH key pair: made once (from the master's own key if it has one) and installed
on a node by one shell command (run here for real with a private HOME)."""

from __future__ import annotations

import os
import subprocess

from gnt.nodes import sshkeys


def test_cluster_key_reuses_the_masters_own_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "id_ed25519").write_text("OWN PRIVATE\n")
    (ssh_dir / "id_ed25519.pub").write_text("ssh-ed25519 AAAAown root@master\n")
    private, public = sshkeys.ensure_cluster_key()
    assert private == b"OWN PRIVATE\n" and public == "ssh-ed25519 AAAAown root@master"
    assert oct(os.stat(sshkeys.key_path()).st_mode & 0o777) == "0o600"
    assert sshkeys.master_public_keys() == [public]
    assert sshkeys.identity_args() == ["-o", f"IdentityFile={sshkeys.key_path()}"]


def test_cluster_key_is_generated_when_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert sshkeys.identity_args() == []
    private, public = sshkeys.ensure_cluster_key()
    assert b"PRIVATE KEY" in private and public.startswith("ssh-ed25519 ")
    again = sshkeys.ensure_cluster_key()
    assert again == (private, public)       # made once


def test_install_command_is_idempotent_and_stores_the_pair(tmp_path, monkeypatch):
    home = tmp_path / "node"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    keys = ["ssh-ed25519 AAAAcluster gnt-cluster", "ssh-ed25519 AAAAother root@master"]
    for _round in range(2):
        subprocess.run(["/bin/sh", "-c", sshkeys.install_command(keys)], input=b"SECRET\n",
                       env=env, check=True)
    authorized = (home / ".ssh/authorized_keys").read_text().splitlines()
    assert authorized == keys
    assert (home / ".ssh" / sshkeys.KEY_NAME).read_bytes() == b"SECRET\n"
    assert oct(os.stat(home / ".ssh" / sshkeys.KEY_NAME).st_mode & 0o777) == "0o600"
    assert (home / ".ssh" / f"{sshkeys.KEY_NAME}.pub").read_text().strip() == keys[0]

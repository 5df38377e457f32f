"""The cluster SSH key pair: made once (from the master's own key if it has one). Installing it
on a node is the node_ssh_keys role (tests/unit/modules/test_roles_node_export.py)."""

from __future__ import annotations

import os

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

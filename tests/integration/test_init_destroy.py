"""`gnt-cluster init` on a name that does not resolve, and `destroy --yes-do-it` removing
everything init made (files, daemon, the bridge it created)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration


def test_init_then_destroy_leaves_nothing(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    bridge_existed = Path("/sys/class/net/gnt-br0").exists()
    gnt = make_cluster(root, "nowhere.invalid.example")
    try:
        info = gnt.run("gnt-cluster", "info").stdout
        assert "nowhere.invalid.example" in info
        assert gnt.config()["cluster"]["master_ip"] == gnt.config()["nodes"][
            gnt.config()["cluster"]["master_node"]]["primary_ip"]
        pid = int((root / "var/run/gnt/gnt-masterd.pid").read_text())
        os.kill(pid, 0)
        # init makes the remote API's key and certificate (even with no RAPI running), 0600
        cert = root / "var/lib/gnt/rapi.pem"
        assert cert.stat().st_mode & 0o777 == 0o600
        assert b"BEGIN CERTIFICATE" in cert.read_bytes()
        assert Path("/sys/class/net/gnt-br0").exists()
        gnt.run("gnt-cluster", "destroy", "--yes-do-it")
    finally:
        destroy_cluster(gnt)
    left = [str(p.relative_to(root)) for p in root.rglob("*")]
    assert left == [], left
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert Path("/sys/class/net/gnt-br0").exists() == bridge_existed


def test_destroy_without_yes_do_it_refuses(tmp_path):
    gnt = make_cluster(tmp_path, "keep.example")
    try:
        proc = gnt.run("gnt-cluster", "destroy", check=False)
        assert proc.returncode == 1
        assert "--yes-do-it" in proc.stdout + proc.stderr
        assert gnt.config_file.exists()
    finally:
        destroy_cluster(gnt)


def test_debian_noop_os_works_unmodified(tmp_path):
    if not Path("/usr/share/ganeti/os/noop").is_dir():
        pytest.skip("Debian's ganeti-os-noop is not installed (scripts/setup.sh --test installs it)")
    gnt = make_cluster(tmp_path, "noop.example")
    try:
        assert "noop" in gnt.run("gnt-os", "list").stdout.split()
        gnt.run("gnt-instance", "add", "-o", "noop", "-t", "file", "--disk", "0:size=8M",
                "--no-start", "vmnoop.example")
        assert gnt.instances()["vmnoop.example"]["os"] == "noop"
        gnt.run("gnt-instance", "reinstall", "-f", "vmnoop.example")
        gnt.run("gnt-instance", "remove", "-f", "vmnoop.example")
    finally:
        destroy_cluster(gnt)

"""ssconf values/archive/read and the Replicator (ssh.run patched at the network edge; no
forward to a node's warm interpreter here, so every push goes over SSH); both ends of a push
(the shell command and the script the node's warm interpreter runs when relayed) are run
locally on a real tar."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from typing import Any

import pytest

from gnt import __version__
from gnt.admin import bootstrap
from gnt.core import settings, ssconf
from gnt.nodes import ssh
from gnt.nodes.replication import CONFIG_NAME, Replicator, archive, unpack_command, unpack_script

MASTER = "node1.example.com"


@pytest.fixture
def data(tmp_path, monkeypatch) -> dict[str, Any]:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    cfg = bootstrap.build_config(
        "cluster.example.com", "198.18.0.10", MASTER, "198.18.0.11", "gnt-br0", ["kvm"],
        ["file", "sharedfile"], "/srv/gnt/file-storage", "/srv/gnt/shared-file-storage",
        {}, {}, {}, 10, "aa:00:00")
    group = next(iter(cfg["nodegroups"]))
    for index, (name, mc, offline) in enumerate([("node2.example.com", True, False),
                                                 ("node3.example.com", False, False),
                                                 ("node4.example.com", False, True)]):
        cfg["nodes"][f"uuid-{name}"] = {
            "uuid": f"uuid-{name}", "name": name, "primary_ip": f"198.18.0.{12 + index}",
            "secondary_ip": f"198.18.0.{12 + index}", "master_candidate": mc,
            "offline": offline, "drained": False, "master_capable": True, "vm_capable": True,
            "group": group, "ndparams": {}, "tags": [], "serial_no": 1, "ctime": 0,
            "mtime": 0}
    return cfg


class Capture:
    def __init__(self) -> None:
        self.calls: list[tuple[ssh.Target, str, bytes]] = []
        self.fail: dict[str, ssh.Result] = {}

    def __call__(self, target, command, stdin=None, timeout=60.0, forward=None):
        self.calls.append((target, command, stdin))
        return self.fail.get(target.name) or ssh.Result(target.name, 0, "", "")

    def by_node(self) -> dict[str, tuple[ssh.Target, str, bytes]]:
        return {call[0].name: call for call in self.calls}


@pytest.fixture
def capture(monkeypatch) -> Capture:
    cap = Capture()
    monkeypatch.setattr(ssh, "run", cap)
    return cap


def members(blob: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore


# --- ssconf -------------------------------------------------------------------------------

def test_ssconf_values(data):
    data["instances"] = {"i2": {"name": "zz.example.com"}, "i1": {"name": "aa.example.com"}}
    data["cluster"]["tags"] = ["b", "a"]
    vals = ssconf.values(data)
    assert vals["master_node"] == MASTER + "\n"
    assert vals["cluster_name"] == "cluster.example.com\n"
    assert vals["master_ip"] == "198.18.0.10\n"
    assert vals["master_candidates"] == f"{MASTER}\nnode2.example.com\n"
    assert vals["master_candidates_ips"] == "198.18.0.11\n198.18.0.12\n"
    assert vals["node_list"].splitlines() == [MASTER, "node2.example.com", "node3.example.com",
                                              "node4.example.com"]
    assert "node3.example.com 198.18.0.13" in vals["node_primary_ips"].splitlines()
    assert vals["offline_nodes"] == "node4.example.com\n"
    assert "node4.example.com" not in vals["online_nodes"]
    assert vals["instance_list"] == "aa.example.com\nzz.example.com\n"
    assert vals["cluster_tags"] == "a\nb\n"
    assert vals["release_version"] == __version__ + "\n"
    assert vals["config_serial"] == f"{data['serial_no']}\n"
    assert all(v == "" or v.endswith("\n") for v in vals.values())


def test_ssconf_write_and_read(tmp_path):
    vals = {"master_node": "node1\n", "node_list": "a\nb\n\n"}
    ssconf.write_local(vals, tmp_path / "d")
    assert ssconf.read("master_node", tmp_path / "d") == "node1"
    assert ssconf.read_list("node_list", tmp_path / "d") == ["a", "b"]
    assert ssconf.read("missing", tmp_path / "d") is None
    assert ssconf.read_list("missing", tmp_path / "d") == []
    assert not list((tmp_path / "d").glob("*.tmp"))


# --- Replicator ---------------------------------------------------------------------------

def test_candidate_gets_config_and_ssconf(data, capture):
    blob = json.dumps(data).encode()
    assert Replicator()(data, blob) == []
    calls = capture.by_node()
    assert set(calls) == {"node2.example.com", "node3.example.com"}   # no master, no offline
    target, command, stdin = calls["node2.example.com"]
    assert (target.address, target.local) == ("198.18.0.12", False)
    files = members(stdin)
    assert files[CONFIG_NAME] == blob
    assert files["ssconf_master_node"] == f"{MASTER}\n".encode()
    assert set(files) == ({CONFIG_NAME, ssh.KNOWN_HOSTS_NAME}
                          | {ssconf.PREFIX + k for k in ssconf.values(data)})
    assert f"rm -f {settings.paths().data_dir}/{CONFIG_NAME}" not in command


def test_non_candidate_gets_only_ssconf_and_loses_config(data, capture):
    Replicator()(data, b"{}")
    _target, command, stdin = capture.by_node()["node3.example.com"]
    files = members(stdin)
    assert CONFIG_NAME not in files
    assert files["ssconf_node_list"].decode().count("\n") == 4
    d = settings.paths().data_dir
    assert command.endswith(f"rm -f {d}/rapi.pem {d}/cluster-domain-secret {d}/{CONFIG_NAME}")
    assert "rapi.pem" not in files and "cluster-domain-secret" not in files


def test_candidate_gets_the_secrets_0600_that_exist(data, capture):
    paths = settings.paths()
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    paths.cluster_domain_secret.write_text("s3cret\n")
    Replicator()(data, b"{}")
    _target, _command, stdin = capture.by_node()["node2.example.com"]
    with tarfile.open(fileobj=io.BytesIO(stdin)) as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    assert modes["cluster-domain-secret"] == 0o600 and "rapi.pem" not in modes
    assert members(stdin)["cluster-domain-secret"] == b"s3cret\n"


def test_master_ssconf_written_locally(data, capture):
    Replicator()(data, b"{}")
    assert ssconf.read("master_node") == MASTER
    assert ssconf.read("config_serial") == str(data["serial_no"])


def test_unchanged_ssconf_not_resent_to_non_candidates(data, capture):
    rep = Replicator()
    rep(data, b"{}")
    capture.calls.clear()
    data["serial_no"] += 1   # config_serial alone is volatile
    rep(data, b"{}")
    assert set(capture.by_node()) == {"node2.example.com"}   # candidates always get config
    capture.calls.clear()
    data["cluster"]["tags"] = ["new"]
    rep(data, b"{}")
    assert set(capture.by_node()) == {"node2.example.com", "node3.example.com"}
    capture.calls.clear()
    rep.distribute(data, b"{}", force=True)   # redist-conf pushes everywhere
    assert set(capture.by_node()) == {"node2.example.com", "node3.example.com"}


def test_failures_are_recorded_warned_and_retried(data, capture):
    rep = Replicator()
    capture.fail["node3.example.com"] = ssh.Result(
        "node3.example.com", 255, "", "ssh: connect to host 198.18.0.13: No route to host\n")
    warnings = rep(data, b"{}")
    assert len(warnings) == 1
    assert "node3.example.com" in warnings[0] and "No route to host" in warnings[0]
    assert rep.failures == {"node3.example.com":
                            "ssh: connect to host 198.18.0.13: No route to host"}
    # the failed node is retried on the next write even though its ssconf did not change
    del capture.fail["node3.example.com"]
    capture.calls.clear()
    assert rep(data, b"{}") == []
    assert "node3.example.com" in capture.by_node()
    assert rep.failures == {}


def test_offline_node_skipped_and_removed_node_forgotten(data, capture):
    rep = Replicator()
    rep(data, b"{}")
    assert "node4.example.com" not in capture.by_node()
    del data["nodes"]["uuid-node3.example.com"]
    rep(data, b"{}")
    assert "node3.example.com" not in rep._pushed


def test_ssh_port_ndparam_is_used(data, capture):
    data["nodes"]["uuid-node2.example.com"]["ndparams"] = {"ssh_port": 2022}
    Replicator()(data, b"{}")
    assert capture.by_node()["node2.example.com"][0].port == 2022


# --- the real unpack: the shell command (over SSH) and the relayed script ---------------------

def _run_unpack(way: str, directory, files: dict[str, bytes], remove_config: bool
                ) -> subprocess.CompletedProcess:
    """The push's node end, run here: the shell command over SSH is given the archive of
    ``files``; the script the node's warm interpreter runs when the push is relayed, the files
    themselves (run in a Python of its own, as in the server's fork: it sets the umask)."""
    if way == "shell":
        return subprocess.run(["/bin/sh", "-c", unpack_command(str(directory), remove_config)],
                              input=archive(files), capture_output=True, check=False)
    return subprocess.run([sys.executable, "-I", "-c", "import sys; exec(sys.stdin.read())"],
                          input=unpack_script(str(directory), remove_config, files),
                          capture_output=True, check=False)


@pytest.fixture(params=["shell", "relayed"])
def way(request) -> str:
    return request.param


def _unpack(directory, files: dict[str, bytes], remove_config: bool, way: str = "shell"
            ) -> subprocess.CompletedProcess:
    return _run_unpack(way, directory, files, remove_config)


def test_unpack_puts_files_in_place(tmp_path, way):
    data_dir = tmp_path / "data dir"   # a space: the command must quote it
    data_dir.mkdir()
    (data_dir / "ssconf_master_node").write_text("old\n")
    (data_dir / "queue").mkdir()
    proc = _unpack(data_dir, {CONFIG_NAME: b'{"serial_no": 5}', "ssconf_master_node": b"new\n"},
                   remove_config=False, way=way)
    assert proc.returncode == 0, proc.stderr
    assert (data_dir / CONFIG_NAME).read_bytes() == b'{"serial_no": 5}'
    assert (data_dir / "ssconf_master_node").read_text() == "new\n"
    assert sorted(p.name for p in data_dir.iterdir()) == [CONFIG_NAME, "queue",
                                                          "ssconf_master_node"]


def test_unpack_moves_many_and_hidden_files_and_takes_an_empty_archive(tmp_path, way):
    files = {f"ssconf_key{i}": f"{i}\n".encode() for i in range(40)}
    files[".hidden"] = b"h\n"
    proc = _unpack(tmp_path, files, remove_config=False, way=way)
    assert proc.returncode == 0, proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    proc = _unpack(tmp_path, {}, remove_config=False, way=way)
    assert proc.returncode == 0, proc.stderr
    assert len(list(tmp_path.iterdir())) == 41 and not list(tmp_path.glob(".push.*"))


def test_unpack_creates_missing_dir(tmp_path, way):
    proc = _unpack(tmp_path / "new" / "dir", {"ssconf_a": b"1\n"}, remove_config=False, way=way)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "new" / "dir" / "ssconf_a").read_text() == "1\n"
    for made in (tmp_path / "new", tmp_path / "new" / "dir"):
        assert oct(made.stat().st_mode & 0o777) == "0o700", made


def test_pushed_files_have_the_masters_modes(tmp_path, way):
    files = {CONFIG_NAME: b"{}", "ssconf_master_node": b"n1\n",
             ssh.KNOWN_HOSTS_NAME: b"node1 ssh-ed25519 AAAA\n"}
    with tarfile.open(fileobj=io.BytesIO(archive(files))) as tar:
        modes = {member.name: member.mode for member in tar.getmembers()}
    assert modes == {CONFIG_NAME: 0o600, "ssconf_master_node": ssconf.FILE_MODE,
                     ssh.KNOWN_HOSTS_NAME: 0o644}
    proc = _run_unpack(way, tmp_path, files, remove_config=False)
    assert proc.returncode == 0, proc.stderr
    assert {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()} == modes


def test_relayed_unpack_leaves_unchanged_files_alone(tmp_path):
    files = {CONFIG_NAME: b'{"serial_no": 1}', "ssconf_master_node": b"n1\n"}
    assert _unpack(tmp_path, files, remove_config=False, way="relayed").returncode == 0
    inodes = {path.name: path.stat().st_ino for path in tmp_path.iterdir()}
    (tmp_path / "ssconf_master_node").chmod(0o600)   # a mode changed: written again
    files[CONFIG_NAME] = b'{"serial_no": 2}'
    assert _unpack(tmp_path, files, remove_config=False, way="relayed").returncode == 0
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == files
    assert (tmp_path / "ssconf_master_node").stat().st_mode & 0o777 == ssconf.FILE_MODE
    assert all((tmp_path / name).stat().st_ino != inode for name, inode in inodes.items())
    inodes = {path.name: path.stat().st_ino for path in tmp_path.iterdir()}
    assert _unpack(tmp_path, files, remove_config=False, way="relayed").returncode == 0
    assert {path.name: path.stat().st_ino for path in tmp_path.iterdir()} == inodes


def test_unpack_non_candidate_removes_config_and_secrets(tmp_path, way):
    for name in (CONFIG_NAME, "rapi.pem", "cluster-domain-secret"):
        (tmp_path / name).write_text("{}")
    proc = _unpack(tmp_path, {"ssconf_master_node": b"n1\n"}, remove_config=True, way=way)
    assert proc.returncode == 0, proc.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ssconf_master_node"]
    assert (tmp_path / "ssconf_master_node").read_text() == "n1\n"
    assert not list(tmp_path.glob(".push.*"))


def test_unpack_command_bad_tar_fails_and_keeps_files(tmp_path):
    (tmp_path / "ssconf_master_node").write_text("keep\n")
    (tmp_path / CONFIG_NAME).write_text("{}")
    proc = subprocess.run(["/bin/sh", "-c", unpack_command(str(tmp_path), True)],
                          input=b"this is not a tar archive" * 40, capture_output=True,
                          check=False)
    assert (tmp_path / CONFIG_NAME).read_text() == "{}"
    assert (tmp_path / "ssconf_master_node").read_text() == "keep\n"
    assert not list(tmp_path.glob(".push.*"))
    assert proc.returncode != 0, proc.stderr


def test_relayed_unpack_refuses_a_file_outside_the_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "ssconf_master_node").write_text("keep\n")
    for name in ("../escaped", "sub/file", ".."):
        proc = _unpack(data_dir, {"ssconf_master_node": b"new\n", name: b"x"},
                       remove_config=True, way="relayed")
        assert proc.returncode != 0 and b"not a plain file name" in proc.stderr, name
        assert not (tmp_path / "escaped").exists()
        assert sorted(path.name for path in data_dir.iterdir()) == ["ssconf_master_node"]
        assert (data_dir / "ssconf_master_node").read_text() == "keep\n"


# --- what a node reports back to verify (gnt.nodes.agent, run for real here) -------------------

def test_nodecmd_verify_reads_local_config_and_ssconf(data, tmp_path, capsys):
    from gnt.nodes import agent

    storage = tmp_path / "storage"
    (storage / "inst1.example.com").mkdir(parents=True)
    (storage / "inst1.example.com" / "disk0").write_bytes(b"")
    settings.paths().data_dir.mkdir(parents=True, exist_ok=True)
    settings.paths().config_file.write_text(json.dumps({"serial_no": 42}))
    ssconf.write_local({"master_node": f"{MASTER}\n", "config_serial": "41\n"})
    assert agent.main(["verify", "--storage-dirs", str(storage),
                       "--storage-dirs", str(tmp_path / "absent")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dirs"] == {str(storage): True, str(tmp_path / "absent"): False}
    assert info["files"] == [str(storage / "inst1.example.com" / "disk0")]
    assert (info["config_serial"], info["ssconf_serial"]) == (42, 41)
    assert info["ssconf_master_node"] == MASTER
    assert isinstance(info["bridges"], list)


def test_nodecmd_verify_without_cluster_files(data, capsys):
    from gnt.nodes import agent

    assert agent.main(["verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["config_serial"], info["ssconf_master_node"], info["ssconf_serial"]) == \
        (None, None, None)


def test_nodecmd_command_line_is_shell_safe():
    from gnt.nodes import agent

    line = agent.command_line("verify", storage_dirs=["/srv/my dir", "/x;rm -rf /"])
    assert line.split()[1:4] == ["-m", "gnt.nodes.agent", "verify"]
    assert "--storage-dirs '/srv/my dir' --storage-dirs '/x;rm -rf /'" in line
    with pytest.raises(TypeError, match="storage_dir"):
        agent.command_line("verify", storage_dir="/x")      # not an argument of verify

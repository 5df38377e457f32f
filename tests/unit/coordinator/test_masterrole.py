"""Master failover: the serial vote, the newest config among candidates, the master IP
commands (run with /bin/sh against a fake ``ip``), and master_failover end to end on a config
under a temp GNT_ROOT (SSH to the other nodes faked at the edge)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from typing import Any

import pytest

from gnt.admin import bootstrap, masterrole
from gnt.config.store import ConfigStore, read_config
from gnt.core import settings, ssconf
from gnt.core.errors import OpPrereqError
from gnt.daemon import control
from gnt.nodes import masterip, ssh

N1, N2, N3, N4 = (f"node{i}.example.com" for i in range(1, 5))


def make_config(names: list[str], candidates: list[str] | None = None,
                offline: tuple[str, ...] = ()) -> dict[str, Any]:
    data = bootstrap.build_config(
        "cluster.example.com", "198.18.0.10", N1, "198.18.0.11", "", ["kvm"],
        ["file", "sharedfile"], "/srv/gnt/file-storage", "/srv/gnt/shared-file-storage",
        {}, {}, {}, 10, "aa:00:00")
    group = next(iter(data["nodegroups"]))
    master = data["cluster"]["master_node"]
    data["nodes"][master].update(uuid=master, serial_no=1, ctime=0, mtime=0)
    for index, name in enumerate(names[1:], start=2):
        data["nodes"][f"uuid-{name}"] = {
            "uuid": f"uuid-{name}", "name": name, "primary_ip": f"198.18.0.{10 + index}",
            "secondary_ip": f"198.18.0.{10 + index}",
            "master_candidate": name in (candidates or names), "offline": name in offline,
            "drained": False, "master_capable": True, "vm_capable": True, "group": group,
            "ndparams": {}, "tags": [], "serial_no": 1, "ctime": 0, "mtime": 0}
    return data


class SSH:
    def __init__(self) -> None:
        self.dead: set[str] = set()
        self.answers: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, target, command, stdin=None, timeout=60.0, forward=None):
        self.calls.append((target.name, command))
        if target.name in self.dead:
            return ssh.Result(target.name, 255, "", f"ssh: connect to host {target.address}"
                              " port 22: Connection timed out\n")
        return ssh.Result(target.name, 0, self.answers.get(target.name, ""), "")


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch) -> SSH:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    fake = SSH()
    monkeypatch.setattr(ssh, "run", fake)
    return fake


def _me(data, name):
    return next(n for n in data["nodes"].values() if n["name"] == name)


# --- _vote --------------------------------------------------------------------------------

def test_vote_three_nodes_one_dead_is_a_majority(fake_ssh):
    data = make_config([N1, N2, N3])
    fake_ssh.dead = {N1}
    lines: list[str] = []
    masterrole._vote(data, _me(data, N2), False, lines.append)
    assert lines == ["Nodes answering: 1 of 2 other online node(s)"]
    assert sorted(name for name, _c in fake_ssh.calls) == [N1, N3]


def test_vote_two_nodes_other_dead_refused_without_no_voting(fake_ssh):
    data = make_config([N1, N2])
    fake_ssh.dead = {N1}
    with pytest.raises(OpPrereqError) as err:
        masterrole._vote(data, _me(data, N2), False, lambda m: None)
    assert "0 of 1" in str(err.value) and "--no-voting" in str(err.value)
    fake_ssh.calls.clear()
    masterrole._vote(data, _me(data, N2), True, lambda m: None)
    assert fake_ssh.calls == []   # --no-voting asks nobody


@pytest.mark.parametrize("names,dead,ok", [
    ([N1, N2, N3], {N1, N3}, False),        # alone out of three
    ([N1, N2, N3, N4], {N1, N3}, False),    # 2 of 4 is no majority
    ([N1, N2, N3, N4], {N1}, True),         # 3 of 4
    ([N1, N2], set(), True),                # both answer
])
def test_vote_majority_arithmetic(fake_ssh, names, dead, ok):
    data = make_config(names)
    fake_ssh.dead = dead
    if ok:
        masterrole._vote(data, _me(data, N2), False, lambda m: None)
    else:
        with pytest.raises(OpPrereqError):
            masterrole._vote(data, _me(data, N2), False, lambda m: None)


def test_vote_ignores_offline_nodes_and_single_node(fake_ssh):
    data = make_config([N1, N2, N3], offline=(N3,))
    masterrole._vote(data, _me(data, N2), False, lambda m: None)
    assert [name for name, _c in fake_ssh.calls] == [N1]
    fake_ssh.calls.clear()
    alone = make_config([N1])
    masterrole._vote(alone, _me(alone, N1), False, lambda m: None)
    assert fake_ssh.calls == []


# --- _best_config -------------------------------------------------------------------------

def test_best_config_picks_highest_serial(fake_ssh):
    local = make_config([N1, N2, N3, N4])
    local["serial_no"] = 5
    newer, older = copy.deepcopy(local), copy.deepcopy(local)
    newer["serial_no"], older["serial_no"] = 9, 7
    fake_ssh.answers = {N1: json.dumps(older), N3: json.dumps(newer), N4: "garbage{"}
    fake_ssh.dead = {N2}
    others = [_me(local, n) for n in (N1, N2, N3, N4)]
    lines: list[str] = []
    best = masterrole._best_config(local, others, lines.append)
    assert best["serial_no"] == 9
    assert any(N2 in line and "did not answer" in line for line in lines)
    assert any(N4 in line and "unreadable" in line for line in lines)
    assert all(c == f"cat {settings.paths().config_file}" for _n, c in fake_ssh.calls)


def test_best_config_keeps_local_when_newest(fake_ssh):
    local = make_config([N1, N2])
    local["serial_no"] = 10
    other = dict(local, serial_no=3)
    fake_ssh.answers = {N1: json.dumps(other)}
    assert masterrole._best_config(local, [_me(local, N1)], lambda m: None) is local


# --- master IP ----------------------------------------------------------------------------

def test_master_ip_command_text():
    add = masterip.master_ip_command("add", "198.18.0.10", "gnt-br0")
    assert add == ("ip -o addr show dev gnt-br0 | grep -qF ' 198.18.0.10/32 ' ||"
                   " ip addr add 198.18.0.10/32 dev gnt-br0")
    delete = masterip.master_ip_command("del", "198.18.0.10", "br 0")
    assert delete.startswith("! ip -o addr show dev 'br 0'")
    assert delete.endswith("ip addr del 198.18.0.10/32 dev 'br 0'")


@pytest.fixture
def fake_ip(tmp_path):
    """An ``ip`` on PATH that keeps addresses in a file and logs changes."""
    state, log = tmp_path / "addrs", tmp_path / "ip.log"
    state.write_text("")
    script = tmp_path / "bin" / "ip"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
if [ "$1" = "-o" ]; then
  while read -r a; do echo "2: $5    inet $a scope global $5"; done < {state}
  exit 0
fi
echo "$*" >> {log}
if [ "$2" = "add" ]; then echo "$3" >> {state}; fi
if [ "$2" = "del" ]; then grep -vxF "$3" {state} > {state}.new; mv {state}.new {state}; fi
""")
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{script.parent}:{os.environ['PATH']}"}

    def run(action: str) -> int:
        return subprocess.run(["/bin/sh", "-c", masterip.master_ip_command(
            action, "198.18.0.10", "gnt-br0")], env=env, check=False).returncode
    return run, state, log


def test_master_ip_commands_are_idempotent(fake_ip):
    run, state, log = fake_ip
    assert run("add") == 0 and run("add") == 0
    assert state.read_text() == "198.18.0.10/32\n"
    assert log.read_text() == "addr add 198.18.0.10/32 dev gnt-br0\n"
    assert run("del") == 0 and run("del") == 0
    assert state.read_text() == ""
    assert log.read_text().splitlines()[-1] == "addr del 198.18.0.10/32 dev gnt-br0"
    assert len(log.read_text().splitlines()) == 2


# --- master_failover end to end -----------------------------------------------------------

@pytest.fixture
def on_node2(fake_ssh, monkeypatch):
    """This machine is node2 of a three-node cluster whose master is node1."""
    monkeypatch.setenv("GNT_NODE_NAME", N2)
    data = make_config([N1, N2, N3], candidates=[N2])
    settings.paths().data_dir.mkdir(parents=True)
    ConfigStore.create(data, settings.paths().config_file)
    started: list[bool] = []
    monkeypatch.setattr(control, "daemon_alive", lambda *a, **k: False)
    monkeypatch.setattr(control, "start_daemon", lambda *a, **k: started.append(True))
    fake_ssh.started = started  # type: ignore[attr-defined]
    return fake_ssh


def test_master_failover_moves_the_role(on_node2):
    before = read_config(settings.paths().config_file)
    lines: list[str] = []
    assert masterrole.master_failover(feedback=lines.append) == N1
    after = read_config(settings.paths().config_file)
    me = _me(after, N2)
    assert after["cluster"]["master_node"] == me["uuid"] and me["master_candidate"]
    assert after["serial_no"] > before["serial_no"]
    assert ssconf.read("master_node") == N2
    stops = [c for n, c in on_node2.calls if n == N1 and "gnt-masterd" in c]
    assert stops and stops[0].endswith(" stop")
    assert on_node2.started == [True]
    assert lines[-1] == f"Master role moved from {N1} to {N2}"


def test_master_failover_old_master_down_still_moves_with_majority(on_node2):
    on_node2.dead = {N1}
    lines: list[str] = []
    masterrole.master_failover(feedback=lines.append)
    assert any("could not stop the master daemon" in line for line in lines)
    assert any(N1 in line and "did not get the new configuration" in line for line in lines)


def test_master_failover_refused_on_non_candidate(fake_ssh, monkeypatch):
    monkeypatch.setenv("GNT_NODE_NAME", N3)
    settings.paths().data_dir.mkdir(parents=True)
    ConfigStore.create(make_config([N1, N2, N3], candidates=[N2]),
                       settings.paths().config_file)
    before = settings.paths().config_file.read_bytes()
    with pytest.raises(OpPrereqError) as err:
        masterrole.master_failover(feedback=lambda m: None)
    assert N3 in str(err.value) and "not a master candidate" in str(err.value)
    assert N2 in str(err.value)
    assert settings.paths().config_file.read_bytes() == before


def test_master_failover_refused_on_the_master(fake_ssh, monkeypatch):
    monkeypatch.setenv("GNT_NODE_NAME", N1)
    settings.paths().data_dir.mkdir(parents=True)
    ConfigStore.create(make_config([N1, N2]), settings.paths().config_file)
    with pytest.raises(OpPrereqError, match="already the master"):
        masterrole.master_failover(feedback=lambda m: None)


def test_master_failover_without_config_names_candidates(fake_ssh, monkeypatch):
    monkeypatch.setenv("GNT_NODE_NAME", N3)
    ssconf.write_local({"master_candidates": f"{N1}\n{N2}\n"})
    with pytest.raises(OpPrereqError) as err:
        masterrole.master_failover(feedback=lambda m: None)
    assert N3 in str(err.value) and f"{N1}, {N2}" in str(err.value)


def test_master_failover_continues_from_newest_candidate_config(fake_ssh, monkeypatch):
    monkeypatch.setenv("GNT_NODE_NAME", N2)
    local = make_config([N1, N2, N3], candidates=[N2, N3])
    settings.paths().data_dir.mkdir(parents=True)
    ConfigStore.create(local, settings.paths().config_file)
    newer = read_config(settings.paths().config_file)
    newer["serial_no"] += 5
    newer["cluster"]["tags"] = ["from-node3"]
    fake_ssh.answers = {N3: json.dumps(newer)}
    monkeypatch.setattr(control, "daemon_alive", lambda *a, **k: True)
    lines: list[str] = []
    masterrole.master_failover(feedback=lines.append)
    after = read_config(settings.paths().config_file)
    assert after["cluster"]["tags"] == ["from-node3"]
    assert after["serial_no"] == newer["serial_no"] + 1
    assert after["cluster"]["master_node"] == _me(after, N2)["uuid"]
    assert any("newer configuration" in line and N3 in line for line in lines)
    # the new config went to the other candidate
    pushes = [c for n, c in fake_ssh.calls if n == N3 and "tar -x" in c]
    assert pushes

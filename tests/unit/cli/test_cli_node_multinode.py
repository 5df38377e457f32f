"""gnt-node add/remove/modify/migrate/evacuate, gnt-instance migrate/failover/move and the
multi-node gnt-cluster commands (getmaster, redist-conf, master-failover, command, copyfile,
watcher): options -> opcodes (fake daemon client), ssconf-based commands on a temp GNT_ROOT."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.admin import masterrole
from gnt.cli import cluster, instance, node
from gnt.core import settings, ssconf
from gnt.nodes import ssh

N1, N2 = "node1.example.com", "node2.example.com"


def _op(fake: FakeClient) -> dict:
    (op,) = fake.submitted_ops()
    return op


def _usage_error(module, argv, capsys, code: int = 2) -> str:
    # Ganeti: a bad option is optparse's error (exit 2), a missing argument exits 1
    assert run_cli(module, argv) == code
    return capsys.readouterr().err


# --- gnt-node add/remove/modify -----------------------------------------------------------

def test_node_add_defaults(fake: FakeClient) -> None:
    assert run_cli(node, ["add", "node2"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_NODE_ADD" and op["node_name"] == "node2"
    assert (op["readd"], op["secondary_ip"], op["primary_ip"], op["group"]) == \
        (False, None, None, None)
    assert (op["master_capable"], op["vm_capable"], op["ndparams"]) == (None, None, {})


def test_node_add_options(fake: FakeClient) -> None:
    argv = ["add", "--readd", "-s", "198.18.1.12", "--primary-ip", "198.18.0.12",
            "-g", "rack2", "--master-capable", "no", "--vm-capable", "YES",
            "-N", "ssh_port=2222", "node2"]
    assert run_cli(node, argv) == 0
    op = _op(fake)
    assert op["readd"] is True and op["group"] == "rack2"
    assert (op["primary_ip"], op["secondary_ip"]) == ("198.18.0.12", "198.18.1.12")
    assert (op["master_capable"], op["vm_capable"]) == (False, True)
    assert op["ndparams"] == {"ssh_port": "2222"}


def test_yes_no_values(capsys: pytest.CaptureFixture) -> None:
    for value in ("yes", "Yes", "true", "y", "1"):
        assert node.yes_no(value) is True
    for value in ("no", "NO", "false", "n", "0"):
        assert node.yes_no(value) is False
    err = _usage_error(node, ["add", "--vm-capable", "maybe", "node2"], capsys)
    assert "maybe" in err and "yes or no" in err


def test_node_remove(fake: FakeClient) -> None:
    assert run_cli(node, ["remove", "node2"]) == 0
    op = _op(fake)
    assert (op["OP_ID"], op["node_name"]) == ("OP_NODE_REMOVE", "node2")


def test_node_modify_roles(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", [["master_candidate", False], ["drained", True]])
    assert run_cli(node, ["modify", "-D", "yes", "--auto-promote", "node2"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_NODE_SET_PARAMS"
    assert (op["drained"], op["offline"], op["master_candidate"]) == (True, None, None)
    assert op["auto_promote"] is True and op["force"] is False
    out = capsys.readouterr().out
    assert "Modified node node2" in out and " - drained -> True" in out


def test_node_modify_offline_candidate_force(fake: FakeClient) -> None:
    assert run_cli(node, ["modify", "-O", "no", "-C", "no", "--force", "-s", "198.18.1.2",
                          "--master-capable", "yes", "node2"]) == 0
    op = _op(fake)
    assert (op["offline"], op["master_candidate"], op["force"]) == (False, False, True)
    assert op["secondary_ip"] == "198.18.1.2" and op["master_capable"] is True


def test_node_modify_bad_flag_is_usage_error(fake: FakeClient, capsys) -> None:
    err = _usage_error(node, ["modify", "-C", "perhaps", "node2"], capsys)
    assert "perhaps" in err
    assert fake.submitted_ops() == []


# --- gnt-node migrate/evacuate ------------------------------------------------------------

def _node_has(fake: FakeClient, pinst: list[str], sinst: list[str] | None = None) -> None:
    """The node query answers these instances; the node opcode's result names two jobs (7
    and 8, which end as ``fake.outcomes`` says)."""
    def query(what: str, fields: list[str], names: list[str]) -> dict:
        values = {"name": "node2.example.com", "pinst_list": pinst, "sinst_list": sinst or []}
        return {"data": [[values[field] for field in fields]]}

    fake.handlers["query"] = query
    fake.outcome = ("success", {"jobs": [[True, 7], [True, 8]]})
    fake.outcomes.update({7: ("success", {"node": "node3"}), 8: ("success", {"node": "node3"})})


def test_node_migrate(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    _node_has(fake, ["i2", "i1"])
    assert run_cli(node, ["migrate", "-f", "--non-live", "-n", "node3",
                          "--no-runtime-changes", "node2"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_NODE_MIGRATE" and op["node_name"] == "node2"
    assert (op["mode"], op["target_node"], op["iallocator"]) == ("non-live", "node3", None)
    assert op["allow_runtime_changes"] is False
    # Ganeti's JobExecutor output, then its summary line
    assert capsys.readouterr().out == ("Submitted jobs 7, 8\nWaiting for job 7 ...\n"
                                       "Waiting for job 8 ...\n"
                                       "All instances migrated successfully.\n")


def test_node_migrate_counts_failed_jobs(fake: FakeClient, capsys) -> None:
    _node_has(fake, ["i1", "i2"])
    fake.outcomes[8] = ("error", {"type": "OpExecError", "args": ["migration failed"]})
    assert run_cli(node, ["migrate", "-f", "node2"]) == 1
    captured = capsys.readouterr()
    assert "There were 1 errors during the node migration." in captured.out
    assert captured.err == ("Job 8 has failed: Failure: command execution error:\n"
                            "migration failed\n")


def test_node_migrate_without_primary_instances(fake: FakeClient, capsys) -> None:
    _node_has(fake, [])
    assert run_cli(node, ["migrate", "-f", "node2"]) == 0
    assert capsys.readouterr().out == "No primary instances on node node2.example.com, exiting.\n"
    assert fake.submitted_ops() == []


def test_node_migrate_mode_and_allocator(fake: FakeClient) -> None:
    _node_has(fake, ["i1"])
    assert run_cli(node, ["migrate", "-f", "--migration-mode", "live", "-I", "hail",
                          "node2"]) == 0
    op = _op(fake)
    assert (op["mode"], op["iallocator"], op["target_node"]) == ("live", "hail", None)
    assert op["allow_runtime_changes"] is True


def test_node_migrate_needs_force_without_terminal(fake: FakeClient, capsys) -> None:
    _node_has(fake, ["i1", "i2"])
    assert run_cli(node, ["migrate", "node2"]) == 13     # Ganeti's EXIT_CONFIRMATION
    err = capsys.readouterr().err
    assert "Migrate instance(s) i1, i2?" in err and "--force" in err
    assert fake.submitted_ops() == []


@pytest.mark.parametrize("flags,mode", [([], "all"), (["-p"], "primary-only"),
                                        (["--secondary-only"], "secondary-only")])
def test_node_evacuate_modes(fake: FakeClient, capsys, flags, mode) -> None:
    _node_has(fake, ["i1"], ["i2"])
    assert run_cli(node, ["evacuate", "-f", *flags, "node2"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_NODE_EVACUATE" and op["mode"] == mode
    assert (op["remote_node"], op["iallocator"], op["early_release"]) == (None, None, False)
    assert capsys.readouterr().out.endswith("All instances evacuated successfully.\n")


def test_node_evacuate_nothing_to_do(fake: FakeClient, capsys) -> None:
    _node_has(fake, ["i1"], [])
    assert run_cli(node, ["evacuate", "-f", "--secondary-only", "node2"]) == 0
    assert capsys.readouterr().err == "No instances to evacuate on node(s) node2, exiting.\n"
    assert fake.submitted_ops() == []


def test_node_evacuate_target_and_exclusive_flags(fake: FakeClient, capsys) -> None:
    _node_has(fake, ["i1"])
    assert run_cli(node, ["evacuate", "-f", "-n", "node3", "--early-release", "node2"]) == 0
    op = _op(fake)
    assert op["remote_node"] == "node3" and op["early_release"] is True
    err = _usage_error(node, ["evacuate", "-f", "-p", "-s", "node2"], capsys)
    assert "not allowed with" in err


# --- gnt-instance migrate/failover/move ---------------------------------------------------

def test_instance_migrate(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    fake.outcome = ("success", {"node": "node3.example.com"})
    assert run_cli(instance, ["migrate", "-f", "-n", "node3", "--allow-failover",
                              "--shutdown-timeout", "30", "inst1"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_INSTANCE_MIGRATE" and op["instance_name"] == "inst1"
    assert (op["target_node"], op["allow_failover"], op["shutdown_timeout"]) == \
        ("node3", True, 30)
    assert (op["mode"], op["cleanup"], op["allow_runtime_changes"]) == (None, False, True)
    assert "Instance inst1 is on node node3.example.com" in capsys.readouterr().out


def test_instance_migrate_cleanup_non_live(fake: FakeClient) -> None:
    assert run_cli(instance, ["migrate", "-f", "--cleanup", "--non-live",
                              "--no-runtime-changes", "inst1"]) == 0
    op = _op(fake)
    assert op["cleanup"] is True and op["mode"] == "non-live"
    assert op["allow_runtime_changes"] is False


def test_instance_migrate_bad_mode_is_usage_error(fake: FakeClient, capsys) -> None:
    assert "invalid choice" in _usage_error(instance, ["migrate", "-f", "--migration-mode",
                                                       "fast", "inst1"], capsys)


def test_instance_failover(fake: FakeClient) -> None:
    assert run_cli(instance, ["failover", "-f", "--ignore-consistency", "-I", "builtin",
                              "inst1"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_INSTANCE_FAILOVER"
    assert (op["ignore_consistency"], op["iallocator"], op["target_node"]) == \
        (True, "builtin", None)


def test_instance_failover_asks_without_force(fake: FakeClient, capsys) -> None:
    assert run_cli(instance, ["failover", "inst1"]) == 1
    assert "--force (-f)" in capsys.readouterr().err
    assert fake.submitted_ops() == []


def test_instance_move(fake: FakeClient, capsys) -> None:
    assert run_cli(instance, ["move", "-f", "-n", "node3", "--shutdown-timeout", "5",
                              "inst1"]) == 0
    op = _op(fake)
    assert op["OP_ID"] == "OP_INSTANCE_MOVE"
    assert (op["target_node"], op["shutdown_timeout"]) == ("node3", 5)
    err = _usage_error(instance, ["move", "-f", "inst1"], capsys, code=1)
    assert "-n/--target-node" in err


def test_submit_only_prints_job_id(fake: FakeClient, capsys) -> None:
    assert run_cli(instance, ["migrate", "-f", "--submit", "inst1"]) == 0
    assert capsys.readouterr().out.strip() == "JobID: 1"
    assert "wait_for_job_change" not in fake.methods()


# --- gnt-cluster: ssconf-based commands ---------------------------------------------------

@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    monkeypatch.setenv("GNT_NODE_NAME", N1)
    settings.paths().data_dir.mkdir(parents=True)
    return settings.paths().data_dir


def _ssconf(nodes: dict[str, str], master: str = N1, offline: tuple[str, ...] = ()) -> None:
    ssconf.write_local({"master_node": f"{master}\n",
                        "node_primary_ips": "".join(f"{n} {ip}\n" for n, ip in nodes.items()),
                        "online_nodes": "".join(f"{n}\n" for n in nodes if n not in offline)})


def test_getmaster_reads_ssconf(fake: FakeClient, root, capsys) -> None:
    _ssconf({N1: "198.18.0.11"}, master=N2)
    assert run_cli(cluster, ["getmaster"]) == 0
    assert capsys.readouterr().out == f"{N2}\n"
    assert fake.calls == []   # no daemon needed: works on every node


def test_getmaster_asks_daemon_without_ssconf(fake: FakeClient, root, capsys) -> None:
    fake.handlers["get_master"] = N1
    assert run_cli(cluster, ["getmaster"]) == 0
    assert capsys.readouterr().out == f"{N1}\n"
    assert masterrole.ssconf_master() is None


def test_redist_conf(fake: FakeClient) -> None:
    assert run_cli(cluster, ["redist-conf"]) == 0
    assert _op(fake)["OP_ID"] == "OP_CLUSTER_REDIST_CONF"


def test_master_failover_calls_masterrole(fake, root, monkeypatch, capsys) -> None:
    calls = []
    monkeypatch.setattr(masterrole, "master_failover",
                        lambda no_voting, feedback: calls.append(no_voting))
    assert run_cli(cluster, ["master-failover"]) == 0
    assert run_cli(cluster, ["master-failover", "--no-voting", "--yes-do-it"]) == 0
    assert calls == [False, True]
    # --no-voting without --yes-do-it and no terminal: refused
    assert run_cli(cluster, ["master-failover", "--no-voting"]) == 1
    assert calls == [False, True]
    assert "--yes-do-it" in capsys.readouterr().err


def test_command_runs_on_local_node_for_real(fake, root, capsys) -> None:
    _ssconf({N1: "198.18.0.11"})
    assert run_cli(cluster, ["command", "echo", "a  b"]) == 0
    out = capsys.readouterr().out
    assert f"node: {N1}\na  b\nreturn code = 0" in out
    assert run_cli(cluster, ["command", "echo $((6*7)); exit 3"]) == 1   # one word: shell
    out = capsys.readouterr().out
    assert "42\nreturn code = 3" in out


def test_command_targets_nodes_and_skips_master(fake, root, monkeypatch, capsys) -> None:
    _ssconf({N1: "198.18.0.11", N2: "198.18.0.12", "node3.example.com": "198.18.0.13"},
            offline=("node3.example.com",))
    seen = []

    def fake_run(target, command, stdin=None, timeout=60.0):
        seen.append((target.name, target.address, target.local))
        return ssh.Result(target.name, 0, "ok\n", "")

    monkeypatch.setattr(ssh, "run", fake_run)
    assert run_cli(cluster, ["command", "-M", "true"]) == 0
    assert seen == [(N2, "198.18.0.12", False)]   # not the master, not the offline node
    seen.clear()
    assert run_cli(cluster, ["command", "-n", "node1", "-n", "node3", "true"]) == 0
    assert sorted(seen) == [(N1, "198.18.0.11", True), ("node3.example.com", "198.18.0.13",
                                                        False)]
    assert run_cli(cluster, ["command", "-n", "nosuch", "true"]) == 1
    assert "nosuch" in capsys.readouterr().err


def test_command_without_ssconf_is_a_clear_error(fake, root, capsys) -> None:
    assert run_cli(cluster, ["command", "true"]) == 1
    assert "ssconf" in capsys.readouterr().err


def test_copyfile(fake, root, tmp_path, monkeypatch, capsys) -> None:
    _ssconf({N1: "198.18.0.11", N2: "198.18.0.12"})
    src = tmp_path / "file.conf"
    src.write_bytes(b"payload")
    src.chmod(0o640)
    written = []

    def fake_write(target, path, content, mode=0o600, timeout=60.0):
        written.append((target.name, path, content, mode))
        return ssh.Result(target.name, 0, "", "")

    monkeypatch.setattr(ssh, "write_file", fake_write)
    assert run_cli(cluster, ["copyfile", str(src)]) == 0
    assert written == [(N2, str(src), b"payload", 0o640)]   # never to the master itself
    assert "to 1 of 1 node(s)" in capsys.readouterr().out
    monkeypatch.setattr(ssh, "write_file", lambda t, p, c, m=0o600, timeout=60.0:
                        ssh.Result(t.name, 255, "", "ssh: connect to host: refused\n"))
    assert run_cli(cluster, ["copyfile", str(src)]) == 1
    assert f"to node {N2} failed: ssh: connect to host: refused" in capsys.readouterr().err
    assert run_cli(cluster, ["copyfile", str(tmp_path / "missing")]) == 1
    assert "missing" in capsys.readouterr().err


def test_watcher_pause_info_continue(fake, root, capsys) -> None:
    assert run_cli(cluster, ["watcher", "info"]) == 0
    assert "not paused" in capsys.readouterr().out
    before = time.time()
    assert run_cli(cluster, ["watcher", "pause", "1h"]) == 0
    assert "paused until" in capsys.readouterr().out
    until = int((root / "watcher.pause").read_text())
    assert before + 3600 - 2 <= until <= time.time() + 3600
    assert run_cli(cluster, ["watcher", "info"]) == 0
    assert "is paused until" in capsys.readouterr().out
    assert run_cli(cluster, ["watcher", "continue"]) == 0
    assert not (root / "watcher.pause").exists()
    assert run_cli(cluster, ["watcher", "continue"]) == 0   # idempotent
    assert "no longer paused" in capsys.readouterr().out


def test_watcher_expired_pause_and_bad_input(fake, root, capsys) -> None:
    (root / "watcher.pause").write_text(f"{int(time.time()) - 10}\n")
    assert run_cli(cluster, ["watcher", "info"]) == 0
    assert "not paused" in capsys.readouterr().out
    assert run_cli(cluster, ["watcher", "pause"]) == 1
    assert "duration" in capsys.readouterr().err
    assert run_cli(cluster, ["watcher", "pause", "soon"]) == 1
    assert "soon" in capsys.readouterr().err
    assert not (root / "watcher.pause").exists() or \
        int((root / "watcher.pause").read_text()) < time.time()


def test_command_without_command_is_refused(fake, root, monkeypatch, capsys) -> None:
    _ssconf({N1: "198.18.0.11", N2: "198.18.0.12"})
    seen = []
    monkeypatch.setattr(ssh, "run", lambda target, command, stdin=None, timeout=60.0:
                        seen.append(command) or ssh.Result(target.name, 0, "", ""))
    try:
        rc = run_cli(cluster, ["command"])
    except SystemExit as exc:
        rc = exc.code
    assert rc != 0 and seen == []


def test_watcher_pause_without_data_dir_is_a_clear_error(fake, tmp_path, monkeypatch,
                                                         capsys) -> None:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "nocluster"))
    try:
        rc = run_cli(cluster, ["watcher", "pause", "1h"])
    except OSError as err:
        pytest.fail(f"traceback instead of an error message: {err!r}")
    assert rc == 1 and capsys.readouterr().err.strip()

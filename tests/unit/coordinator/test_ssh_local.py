"""gnt.nodes.ssh with real local commands (Target(local=True) runs /bin/sh here) and the ssh
command line it builds for remote nodes."""

from __future__ import annotations

import os
import threading
import time

import pytest

from gnt.nodes import ssh

LOCAL = ssh.Target("node1.example.com", "198.18.0.11", local=True)


@pytest.fixture(autouse=True)
def _root(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))


def test_run_local_returns_rc_stdout_stderr():
    result = ssh.run(LOCAL, "echo out; echo first >&2; echo last >&2; exit 3")
    assert (result.node, result.rc, result.stdout) == ("node1.example.com", 3, "out\n")
    assert not result.ok
    assert result.reason() == "last"   # the last stderr line


def test_run_local_success_and_stdin():
    result = ssh.run(LOCAL, "tr a-z A-Z", stdin=b"hello\n")
    assert result.ok and result.stdout == "HELLO\n"
    assert ssh.Result("n", 5, "", "  \n").reason() == "exit code 5"


def test_run_local_gets_cluster_environment(tmp_path):
    result = ssh.run(LOCAL, 'echo "$GNT_ROOT"; command -v python')
    root, python = result.stdout.splitlines()
    assert root == str(tmp_path / "root")
    assert os.path.dirname(python) == ssh.remote_env()["PATH"].split(os.pathsep)[0]


def test_run_local_timeout_is_a_result_not_an_exception():
    start = time.monotonic()
    result = ssh.run(LOCAL, "sleep 5", timeout=0.3)
    assert time.monotonic() - start < 4
    assert result.rc == 124 and "timed out" in result.reason()


def test_unreachable_is_ssh_exit_255():
    assert ssh.unreachable(ssh.Result("n", 255, "", "ssh: connect to host x: refused"))
    assert not ssh.unreachable(ssh.Result("n", 1, "", "error"))


def test_write_file_replaces_atomically_with_mode(tmp_path):
    path = tmp_path / "sub" / "dir" / "file.txt"
    result = ssh.write_file(LOCAL, str(path), b"first\n", mode=0o640)
    assert result.ok, result.stderr
    assert path.read_bytes() == b"first\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert ssh.write_file(LOCAL, str(path), b"second\n").ok
    assert path.read_bytes() == b"second\n"
    assert path.stat().st_mode & 0o777 == 0o600   # default mode
    assert sorted(os.listdir(path.parent)) == ["file.txt"]   # no temp file left


def test_write_file_path_with_spaces_and_quotes(tmp_path):
    path = tmp_path / "a dir" / "it's here"
    assert ssh.write_file(LOCAL, str(path), b"x").ok
    assert path.read_bytes() == b"x"


def test_write_file_failure_keeps_old_content(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a dir")
    result = ssh.write_file(LOCAL, str(blocker / "f"), b"data")
    assert not result.ok and result.reason()
    assert blocker.read_text() == "not a dir"


def test_ssh_argv_for_a_remote_node(tmp_path):
    target = ssh.Target("node2.example.com", "198.18.0.12", port=2222)
    argv = ssh.ssh_argv(target)
    assert argv[0] == "ssh" and argv[-1] == "root@198.18.0.12"
    assert argv[argv.index("-p") + 1] == "2222"
    opts = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-o"]
    assert "BatchMode=yes" in opts
    assert f"ConnectTimeout={ssh.CONNECT_TIMEOUT}" in opts
    assert "ControlMaster=auto" in opts
    control = next(o for o in opts if o.startswith("ControlPath="))
    assert control.startswith(f"ControlPath={tmp_path / 'root'}")
    assert (tmp_path / "root").exists()   # the control dir was made under GNT_ROOT
    assert "BatchMode=yes" not in ssh.ssh_argv(target, batch=False)


def test_run_remote_wraps_command_with_env(monkeypatch):
    seen = {}

    def fake_run(argv, **kw):
        seen["argv"], seen["kw"] = argv, kw

        class Proc:
            returncode, stdout, stderr = 0, b"ok\n", b""
        return Proc()

    monkeypatch.setattr(ssh.subprocess, "run", fake_run)
    target = ssh.Target("node2.example.com", "198.18.0.12")
    result = ssh.run(target, "echo 'a b'", stdin=b"in")
    assert result.ok and result.stdout == "ok\n" and result.node == "node2.example.com"
    remote = seen["argv"][-1]
    assert seen["argv"][:-1] == ssh.ssh_argv(target)
    assert remote.startswith("env GNT_ROOT=") and "/bin/sh -c " in remote
    assert remote.endswith("'echo '\"'\"'a b'\"'\"''")
    assert seen["kw"]["input"] == b"in" and seen["kw"]["check"] is False


def test_run_missing_program_is_rc_127(monkeypatch):
    def boom(argv, **kw):
        raise FileNotFoundError(2, "No such file or directory", "ssh")

    monkeypatch.setattr(ssh.subprocess, "run", boom)
    result = ssh.run(ssh.Target("n2", "198.18.0.12"), "true")
    assert result.rc == 127 and "No such file" in result.reason()


def test_map_parallel_keeps_key_order_and_runs_at_once():
    barrier = threading.Barrier(3, timeout=5)

    def work(key: str) -> str:
        barrier.wait()   # deadlocks (BrokenBarrierError) unless all three run at once
        return key.upper()

    result = ssh.map_parallel(["c", "a", "b"], work)
    assert list(result) == ["c", "a", "b"]
    assert result == {"c": "C", "a": "A", "b": "B"}


def test_map_parallel_small_inputs_and_errors():
    assert ssh.map_parallel([], lambda k: 1) == {}
    assert ssh.map_parallel(["x"], lambda k: k * 2) == {"x": "xx"}

    def fail(key: str) -> str:
        if key == "bad":
            raise ValueError("bad key")
        return key

    with pytest.raises(ValueError, match="bad key"):
        ssh.map_parallel(["good", "bad"], fail)


def test_run_parallel_by_node_name():
    targets = [ssh.Target("n1", "a", local=True), ssh.Target("n2", "b", local=True)]
    results = ssh.run_parallel(targets, lambda t: ssh.run(t, f"echo {t.name}"))
    assert {name: r.stdout.strip() for name, r in results.items()} == {"n1": "n1", "n2": "n2"}


def test_nodecmd_through_run_like_on_a_node(tmp_path):
    """The exact command line the master sends a node, run by the local shell."""
    import json

    from gnt.nodes import agent

    result = ssh.run(LOCAL, agent.command_line("verify", storage_dirs=[str(tmp_path)]))
    assert result.ok, result.stderr
    assert json.loads(result.stdout)["dirs"] == {str(tmp_path): True}
    bad = ssh.run(LOCAL, agent.command_line("verify") + " --bogus")
    assert bad.rc == 2 and "--bogus" in bad.reason()


def test_a_warm_request_answers_as_the_agent_does_from_a_fork_of_the_server(tmp_path, servers):
    """agent.warm_request: the same answers, exit codes and errors as the agent's command
    line, from a fork of one warm interpreter server (started by the first request)."""
    import json

    from gnt.nodes import agent

    store = tmp_path / "store"
    store.mkdir()
    kwargs = {"storage_dirs": [str(store)]}
    fresh = ssh.run(LOCAL, agent.command_line("verify", **kwargs))
    command, stdin = agent.warm_request("verify", **kwargs)
    assert "gnt.nodes.agent" not in command       # the call itself travels on stdin
    warm = ssh.run(LOCAL, command, stdin=stdin)
    assert warm.ok, warm.stderr
    assert json.loads(warm.stdout) == json.loads(fresh.stdout)
    assert json.loads(warm.stdout)["dirs"] == {str(store): True}
    pids = servers.pids()
    assert len(pids) == 1
    assert ssh.run(LOCAL, command, stdin=stdin).ok and servers.pids() == pids
    # arguments are data: quotes, a newline and code in a path reach the call unchanged
    odd = tmp_path / "it's \"odd\"\n'])); print('injected"
    odd.mkdir()
    answer = ssh.run(LOCAL, *agent.warm_request("verify", storage_dirs=[str(odd)]))
    assert answer.ok, answer.stderr
    assert json.loads(answer.stdout)["dirs"] == {str(odd): True}
    fresh_bad = ssh.run(LOCAL, agent.command_line("storage-list", storage_type="bogus"))
    warm_bad = ssh.run(LOCAL, *agent.warm_request("storage-list", storage_type="bogus"))
    assert (warm_bad.rc, warm_bad.stdout, warm_bad.stderr) == \
        (fresh_bad.rc, fresh_bad.stdout, fresh_bad.stderr)
    assert warm_bad.rc == 1 and "unknown storage type 'bogus'" in warm_bad.stderr

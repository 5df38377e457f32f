"""Ganeti's exit codes and messages: syntax errors, unknown list fields, confirmations on
/dev/tty (issue 10, section 3)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from gntcli_fakes import FakeClient, run_cli

from gnt.cli import common, group, instance, job, node
from gnt.core.errors import OpPrereqError

USAGE_LIST = "Usage\n=====\n  gnt-instance list [options] [INSTANCE...]\n\n"


# --- syntax errors ----------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["list", "--bogus"], "no such option: --bogus"),
    (["list", "-o"], "-o option requires 1 argument"),
    (["list", "--units", "x"],
     "option --units: invalid choice: 'x' (choose from 'h', 'm', 'g', 't')"),
])
def test_bad_option_is_optparse_error(fake: FakeClient, capsys: pytest.CaptureFixture,
                                      argv: list[str], message: str) -> None:
    # Ganeti parses options with optparse: usage block, "prog: error: ...", exit 2
    assert run_cli(instance, argv) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{USAGE_LIST}gnt-instance: error: {message}\n"
    assert captured.out == ""
    assert fake.calls == []


def test_bad_integer_option(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    assert run_cli(job, ["autoarchive", "-t", "soon", "1d"]) == 2
    assert capsys.readouterr().err.endswith(
        "gnt-job: error: option -t: invalid integer value: 'soon'\n")


@pytest.mark.parametrize(("module", "argv", "message"), [
    (instance, ["remove"], "Error: Command remove expects 1 argument(s)"),
    (instance, ["remove", "a", "b"], "Error: Command remove expects 1 argument(s)"),
    (job, ["info"], "Error: Command info expects at least 1 argument(s)"),
    (group, ["assign-nodes", "g"], "Error: Command assign-nodes expects at least 2 argument(s)"),
    (job, ["autoarchive", "1d", "2d"], "Error: Command autoarchive expects 1 argument(s)"),
    (node, ["list-fields", "name"], None),
])
def test_argument_count(fake: FakeClient, capsys: pytest.CaptureFixture, module: Any,
                        argv: list[str], message: str | None) -> None:
    if message is None:  # a valid command line, for contrast
        fake.handlers["query_fields"] = [{"name": "name", "kind": "text", "title": "Node",
                                          "doc": "Node name"}]
        assert run_cli(module, argv) == 0
        return
    assert run_cli(module, argv) == 1
    assert capsys.readouterr().err == f"{message}\n"
    assert fake.submitted_ops() == []


def test_too_many_arguments_for_a_command_without_arguments(
        fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    from gnt.cli import cluster

    assert run_cli(cluster, ["version", "extra"]) == 1
    assert capsys.readouterr().err == "Error: Command version expects no arguments\n"


def test_unknown_command_prints_command_list(capsys: pytest.CaptureFixture) -> None:
    assert run_cli(job, ["frobnicate"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["Usage: gnt-job {command} [options...] [argument...]",
                       "gnt-job <command> --help to see details, or man gnt-job", "",
                       "Commands:"]
    assert any(line.startswith(" archive ") and " - Archive the specified jobs" in line
               for line in out)
    assert run_cli(job, []) == 1


# --- unknown list fields ------------------------------------------------------------------

FIELDS = {"name": ("Instance", "text"), "status": ("Status", "text"),
          "oper_ram": ("Memory", "unit")}
ROWS = {"inst1": {"name": "inst1", "status": "running", "oper_ram": 128,
                  "disk.size/0": 1024},
        "inst2": {"name": "inst2", "status": "ADMIN_down", "oper_ram": None,
                  "disk.size/0": 2048}}


def _daemon_query(what: str, fields: list[str], names: list[str]) -> dict[str, Any]:
    """Answers like the master daemon: unknown fields are refused before anything else."""
    for name in fields:
        if name not in FIELDS and name != "disk.size/0":
            raise OpPrereqError(f"Unknown {what} field '{name}'", "wrong_input")
    fdefs = [{"name": n, "title": FIELDS.get(n, (n, "unit"))[0],
              "kind": FIELDS.get(n, (n, "unit"))[1]} for n in fields]
    return {"fields": fdefs, "data": [[ROWS[row][n] for n in fields] for row in sorted(ROWS)
                                      if not names or row in names]}


@pytest.fixture
def daemon(fake: FakeClient) -> FakeClient:
    fake.handlers["query"] = _daemon_query
    fake.handlers["query_fields"] = [{"name": n, "title": t, "kind": k, "doc": ""}
                                     for n, (t, k) in FIELDS.items()]
    return fake


def test_unknown_field_table_warning_and_exit_14(daemon: FakeClient,
                                                 capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["list", "-o", "name,bogus,status"]) == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields bogus\n"
    assert captured.out == ("Instance bogus Status\n"
                            "inst1    ??    running\n"
                            "inst2    ??    ADMIN_down\n")


def test_unknown_fields_verbose_separator_and_indexed(daemon: FakeClient,
                                                      capsys: pytest.CaptureFixture) -> None:
    argv = ["list", "-v", "--no-headers", "--separator=|", "-o",
            "x1,name,disk.size/0,x2", "inst2"]
    assert run_cli(instance, argv) == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields x1, x2\n"
    assert captured.out == "(unknown)|inst2|2048|(unknown)\n"


def test_only_unknown_fields_still_one_row_per_item(daemon: FakeClient,
                                                    capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["list", "-o", "bogus"]) == 14
    assert capsys.readouterr().out == "bogus\n??\n??\n"


def test_known_fields_exit_0_and_other_errors_stay(daemon: FakeClient,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["list", "-o", "name,oper_ram"]) == 0
    assert capsys.readouterr().out == "Instance Memory\ninst1      128M\ninst2         -\n"

    def refuse_names(what: str, fields: list[str], names: list[str]) -> Any:
        raise OpPrereqError("Unknown instance(s): nosuch", "unknown_entity")

    daemon.handlers["query"] = refuse_names
    assert run_cli(instance, ["list", "nosuch"]) == 1
    assert "Unknown instance(s): nosuch" in capsys.readouterr().err


def test_job_list_unknown_field(fake: FakeClient, capsys: pytest.CaptureFixture) -> None:
    def query_jobs(ids: list[int], fields: list[str]) -> list[Any]:
        assert "bogus" not in fields  # the daemon refuses unknown job fields
        return [[{"id": 7, "status": "success"}[f] for f in fields]]

    fake.handlers["query_jobs"] = query_jobs
    assert run_cli(job, ["list", "-o", "id,bogus,status"]) == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields bogus\n"
    assert captured.out == "ID bogus Status\n 7 ??    success\n"


def test_list_fields_ganeti_types_and_unknown(daemon: FakeClient,
                                              capsys: pytest.CaptureFixture) -> None:
    assert run_cli(instance, ["list-fields", "oper_ram", "bogus", "name"]) == 14
    captured = capsys.readouterr()
    assert captured.err == "Warning: Queried for unknown fields bogus\n"
    assert captured.out == ("Name     Type         Title    Description\n"
                            "oper_ram Storage size Memory   \n"
                            "bogus    Unknown      bogus    Unknown field 'bogus'\n"
                            "name     Text         Instance \n")
    assert run_cli(instance, ["list-fields", "--no-headers", "--separator=|"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "name|Text|Instance|"


# --- confirmations on /dev/tty ------------------------------------------------------------

@pytest.fixture
def pty(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real pseudo terminal standing in for /dev/tty; yields its master side."""
    master, slave = os.openpty()
    monkeypatch.setattr(common, "TTY_PATH", os.ttyname(slave))
    yield master
    os.close(master)
    os.close(slave)


@pytest.fixture
def one_instance(fake: FakeClient) -> FakeClient:
    fake.handlers["query"] = {"fields": [{"name": "name", "title": "Instance", "kind": "text"}],
                              "data": [["inst1"]]}
    return fake


def _answer(master: int, text: bytes, seen: list[bytes] | None = None) -> threading.Thread:
    def feed() -> None:
        got = b""
        try:
            while b"y/[n]/?: " not in got:
                got += os.read(master, 1024)
            if seen is not None:
                seen.append(got)
            os.write(master, text)
        except OSError:  # the terminal went away: the test fails on its own assertions
            pass
    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_confirmation_reads_the_terminal_not_stdin(one_instance: FakeClient, pty: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"n\n")  # stdin says no: it must not be read
    os.close(write_end)
    stdin_probe = os.dup(read_end)
    monkeypatch.setattr("sys.stdin", os.fdopen(read_end))
    asked: list[bytes] = []
    thread = _answer(pty, b"y\n", asked)
    assert run_cli(instance, ["remove", "inst1"]) == 0
    thread.join(5)
    assert os.read(stdin_probe, 3) == b"n\n"  # stdin untouched
    os.close(stdin_probe)
    # Ganeti's question, wrapped at 70 columns, then its choices
    assert asked[0].replace(b"\r\n", b"\n") == (
        b"This will remove the volumes of the instance inst1 (including\n"
        b"mirrors), thus removing all the data of the instance. Continue?\ny/[n]/?: ")
    assert [op["OP_ID"] for op in one_instance.submitted_ops()] == ["OP_INSTANCE_REMOVE"]


def test_confirmation_no_on_the_terminal(one_instance: FakeClient, pty: int) -> None:
    thread = _answer(pty, b"?\nn\n")
    assert run_cli(instance, ["remove", "inst1"]) == 1
    thread.join(5)
    assert not thread.is_alive()  # the question was asked on the terminal and answered
    assert one_instance.submitted_ops() == []


def test_no_terminal_refuses_safely(one_instance: FakeClient, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Any, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(common, "TTY_PATH", str(tmp_path / "no-tty"))
    assert run_cli(instance, ["remove", "inst1"]) == 1
    assert "--force" in capsys.readouterr().err
    assert one_instance.submitted_ops() == []

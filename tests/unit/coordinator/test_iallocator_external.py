"""External allocators: real small programs written to tmp_path, every error path."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gnt import iallocator as ia
from gnt.core.errors import ECODE_ENVIRON, ECODE_FAULT, ECODE_INVAL, ECODE_NORES, OpPrereqError
from gnt.iallocator import simulate as sim


@pytest.fixture()
def data():
    config = sim.new_config()
    live: dict = {}
    sim.add_node(config, live, "node1", memory=8192)
    sim.add_node(config, live, "node2", memory=8192)
    sim.add_node(config, live, "node3", memory=8192, drained=True)
    sim.add_instance(config, live, "vm", ["node1"], memory=512, template="sharedfile")
    return config, live


def alloc_data(data, template="file"):
    config, live = data
    return ia.build_request(config, live, ia.request_allocate("new", 512, [1024], template))


def script(tmp_path: Path, body: str, name: str = "alloc") -> Path:
    """An executable Python program whose main body is ``body`` (input file in sys.argv[-1])."""
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport json, sys, time, os\n{body}\n")
    path.chmod(0o755)
    return path


def answering(tmp_path: Path, answer) -> Path:
    return script(tmp_path, f"print(json.dumps({answer!r}))")


def test_absolute_path_gets_the_input_file_and_its_answer_is_parsed(tmp_path, data):
    seen = tmp_path / "seen.json"
    prog = script(tmp_path, f"""
import shutil
shutil.copy(sys.argv[-1], {str(seen)!r})
json.dump({{"success": True, "info": "ok", "result": ["node2"]}}, sys.stdout)
""")
    request = alloc_data(data)
    result = ia.run_iallocator(str(prog), request)
    assert result.nodes == ["node2"] and result.info == "ok" and result.success
    assert result.allocator == str(prog) and result.mode == "allocate"
    assert json.loads(seen.read_text()) == request


def test_input_file_is_private_and_removed_afterwards(tmp_path, data):
    record = tmp_path / "record"
    prog = script(tmp_path, f"""
st = os.stat(sys.argv[-1])
open({str(record)!r}, "w").write(sys.argv[-1] + " " + oct(st.st_mode & 0o777))
print(json.dumps({{"success": True, "info": "", "result": ["node1"]}}))
""")
    ia.run_iallocator(str(prog), alloc_data(data))
    path, mode = record.read_text().split()
    assert mode == "0o600"
    assert not os.path.exists(path)


def test_extra_args_come_before_the_file(tmp_path, data):
    prog = script(tmp_path, """
ok = sys.argv[1:-1] == ["--flag=1"] and sys.argv[-1].endswith(".json")
print(json.dumps({"success": ok, "info": repr(sys.argv[1:]), "result": ["node1"] if ok else []}))
""")
    assert ia.run_iallocator(str(prog), alloc_data(data), args=["--flag=1"]).nodes == ["node1"]


def test_name_is_searched_under_gnt_root(tmp_path, data, monkeypatch):
    root = tmp_path / "root"
    directory = root / "usr/lib/gnt/iallocators"
    directory.mkdir(parents=True)
    answering(directory, {"success": True, "info": "", "result": ["node2"]}).rename(
        directory / "myalloc")
    monkeypatch.setenv("GNT_ROOT", str(root))
    assert directory in ia.search_path()
    assert ia.find_allocator("myalloc") == directory / "myalloc"
    assert ia.run_iallocator("myalloc", alloc_data(data)).nodes == ["node2"]


def test_unknown_name_lists_the_directories_searched(tmp_path, data, monkeypatch):
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    with pytest.raises(OpPrereqError) as err:
        ia.run_iallocator("no-such-allocator", alloc_data(data))
    assert err.value.ecode == ECODE_INVAL
    message = str(err.value)
    assert "'no-such-allocator' not found" in message
    for directory in ("/usr/lib/ganeti/iallocators", "/usr/local/lib/ganeti/iallocators",
                      "/usr/lib/gnt/iallocators", f"{tmp_path}/usr/lib/gnt/iallocators"):
        assert directory in message


@pytest.mark.parametrize(("name", "message"), [
    ("sub/dir", "give a plain name or an absolute path"),
    ("..", "give a plain name or an absolute path"),
    (" hail", "Invalid iallocator name"),
    ("/nonexistent/alloc", "not found .no such file."),
])
def test_bad_names(name, message, data):
    with pytest.raises(OpPrereqError, match=message) as err:
        ia.run_iallocator(name, alloc_data(data))
    assert err.value.ecode == ECODE_INVAL


def test_not_executable(tmp_path, data):
    prog = answering(tmp_path, {"success": True, "info": "", "result": ["node1"]})
    prog.chmod(0o644)
    with pytest.raises(OpPrereqError, match="is not executable") as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    assert err.value.ecode == ECODE_INVAL


def test_cannot_start(tmp_path, data):
    prog = tmp_path / "broken"
    prog.write_text("#!/nonexistent/interpreter\n")
    prog.chmod(0o755)
    with pytest.raises(OpPrereqError, match="could not be started") as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    assert err.value.ecode == ECODE_ENVIRON


def test_non_zero_exit_reports_the_stderr_tail(tmp_path, data):
    prog = script(tmp_path, """
sys.stderr.write("x" * 5000 + "\\nthe real reason: disk on fire\\n")
sys.exit(3)
""")
    with pytest.raises(OpPrereqError) as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    message = str(err.value)
    assert "exited with code 3" in message and "the real reason: disk on fire" in message
    assert len(message) < 1200
    assert err.value.ecode == ECODE_ENVIRON


def test_killed_by_signal(tmp_path, data):
    prog = script(tmp_path, "import signal; os.kill(os.getpid(), signal.SIGKILL)")
    with pytest.raises(OpPrereqError, match="killed by signal 9"):
        ia.run_iallocator(str(prog), alloc_data(data))


def test_timeout(tmp_path, data):
    prog = script(tmp_path, "time.sleep(30)")
    with pytest.raises(OpPrereqError, match="did not answer within 0.5 s") as err:
        ia.run_iallocator(str(prog), alloc_data(data), timeout=0.5)
    assert err.value.ecode == ECODE_ENVIRON


@pytest.mark.parametrize("output", ["", "Selected node1", "{\"success\": tru"])
def test_output_that_is_not_json(tmp_path, data, output):
    prog = script(tmp_path, f"sys.stdout.write({output!r})")
    with pytest.raises(OpPrereqError, match="did not answer JSON") as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    assert err.value.ecode == ECODE_FAULT


def test_success_false_carries_the_info(tmp_path, data):
    prog = answering(tmp_path, {"success": False, "info": "FailMem: 3", "result": []})
    with pytest.raises(OpPrereqError, match="Can't compute nodes using iallocator .*FailMem: 3"
                       ) as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    assert err.value.ecode == ECODE_NORES


@pytest.mark.parametrize(("answer", "message"), [
    ([1, 2], "expected a JSON object"),
    ({"info": "", "result": ["node1"]}, "'success' missing"),
    ({"success": True, "result": ["node1"]}, "'info' missing"),
    ({"success": True, "info": ""}, "'result' missing"),
    ({"success": True, "info": "", "result": ["node9"]}, "unknown node.s. node9"),
    ({"success": True, "info": "", "result": ["node1", "node2"]}, "2 node.s. .* but 1 required"),
    ({"success": True, "info": "", "result": []}, "0 node.s. .none., but 1 required"),
    ({"success": True, "info": "", "result": "node1"}, "expected a list of node names"),
    ({"success": True, "info": "", "result": ["node3"]}, "node3 are offline or drained"),
])
def test_invalid_allocate_answers(tmp_path, data, answer, message):
    prog = answering(tmp_path, answer)
    with pytest.raises(OpPrereqError, match=message) as err:
        ia.run_iallocator(str(prog), alloc_data(data))
    assert err.value.ecode == ECODE_FAULT


def test_drbd_needs_two_distinct_nodes(tmp_path, data):
    prog = answering(tmp_path, {"success": True, "info": "", "result": ["node1", "node1"]})
    with pytest.raises(OpPrereqError, match="named twice"):
        ia.run_iallocator(str(prog), alloc_data(data, "drbd"))


def test_legacy_nodes_key_is_accepted(tmp_path, data):
    prog = answering(tmp_path, {"success": True, "info": "", "nodes": ["node2"]})
    assert ia.run_iallocator(str(prog), alloc_data(data)).nodes == ["node2"]


def test_relocate_answer_must_leave_the_old_node(tmp_path, data):
    config, live = data
    request = ia.build_request(config, live, ia.request_relocate("vm", ["node1"]))
    assert ia.run_iallocator(str(answering(tmp_path, {"success": True, "info": "",
                                                      "result": ["node2"]})), request
                             ).nodes == ["node2"]
    back = answering(tmp_path, {"success": True, "info": "", "result": ["node1"]}, )
    with pytest.raises(OpPrereqError, match="new node node1 is one it should move away from"):
        ia.run_iallocator(str(back), request)


def test_node_evacuate_answer_is_parsed_and_checked(tmp_path, data):
    config, live = data
    request = ia.build_request(config, live, ia.request_node_evacuate(["vm"]))
    ops = [[{"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "vm", "target_node": "node2"}]]
    good = answering(tmp_path, {"success": True, "info": "1 moved",
                                "result": [[["vm", "default", ["node2"]]], [], ops]})
    result = ia.run_iallocator(str(good), request)
    assert result.moved == [("vm", "default", ["node2"])]
    assert result.failed == [] and result.opcodes == ops
    with pytest.raises(ValueError, match="'nodes' is not defined for a node-evacuate answer"):
        assert result.nodes is not None  # the property raises first
    failed = answering(tmp_path, {"success": True, "info": "",
                                  "result": [[], [["vm", "no room"]], []]})
    assert ia.run_iallocator(str(failed), request).failed == [("vm", "no room")]
    for bad, message in (
            ([[["other", "default", ["node2"]]], [], []], "moved instance 'other' was not asked"),
            ([[["vm", "default", ["node7"]]], [], []], "unknown node.s. node7"),
            ({"moved": []}, "expected .moved, failed, opcodes.")):
        prog = answering(tmp_path, {"success": True, "info": "", "result": bad})
        with pytest.raises(OpPrereqError, match=message):
            ia.run_iallocator(str(prog), request)


def test_multi_allocate_answer(tmp_path, data):
    config, live = data
    request = ia.build_request(config, live, ia.request_multi_allocate(
        [ia.request_allocate("a", 128, [1], "file"), ia.request_allocate("b", 128, [1], "drbd")]))
    prog = answering(tmp_path, {"success": True, "info": "", "result": [
        [["a", ["node1"]], ["b", ["node2", "node1"]]], []]})
    assert ia.run_iallocator(str(prog), request).allocated == [
        ("a", ["node1"]), ("b", ["node2", "node1"])]
    short = answering(tmp_path, {"success": True, "info": "", "result": [
        [["b", ["node2"]]], ["a"]]})
    with pytest.raises(OpPrereqError, match="allocation of b: 1 node.s. .node2., but 2"):
        ia.run_iallocator(str(short), request)


def test_input_without_request_is_refused():
    with pytest.raises(OpPrereqError, match="has no 'request'"):
        ia.run_iallocator("builtin", {"nodes": {}})

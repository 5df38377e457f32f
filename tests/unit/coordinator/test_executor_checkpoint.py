"""A coordinator step between two plays of one run (issue 11): the playbook ends a play that has
one with the checkpoint task, the checkpoint action waits for the coordinator's answer, and the
test executor takes the steps as the real one does. The real runs are in
tests/integration/test_run_checkpoints.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

from ansible_collections.gnt.cluster.plugins.action import checkpoint as action
from gnt.nodes.executor import (
    CHECKPOINT_ACTION,
    NodeAccess,
    Play,
    build_playbook,
    checkpoint_path,
)
from gnt.nodes.recording import RecordingExecutor
from gnt.nodes.runfiles import dump_yaml

NODES = {"n1": NodeAccess("n1", "192.0.2.1", False), "n2": NodeAccess("n2", "192.0.2.2", False)}


def _noop() -> None:
    return None


@pytest.mark.parametrize("role", ["instance_stop", "instance_start"])
def test_a_play_with_a_step_ends_with_the_checkpoint_task(tmp_path, role):
    # instance_start with a file disk runs its no_volumes entry point (an import_role task)
    spec = {"name": "i1", "disk_template": "file"}
    plays = [Play(role, {"n1": {"gnt_instance": spec}}, then=_noop),
             Play("instance_start", {"n2": {"gnt_instance": spec}})]
    book = build_playbook(plays, tmp_path, timeout=60)
    last = book[0]["tasks"][-1]
    assert last[CHECKPOINT_ACTION] == {"path": str(checkpoint_path(tmp_path, 0)), "timeout": 60}
    assert last["run_once"] is True
    assert all(CHECKPOINT_ACTION not in task for task in book[1].get("tasks", []))
    if role == "instance_stop":    # main entry point: the role, then the checkpoint
        assert book[0]["roles"][0]["role"] == "gnt.cluster.instance_stop"
        assert len(book[0]["tasks"]) == 1
    else:
        assert "ansible.builtin.import_role" in book[0]["tasks"][0]


def test_the_checkpoint_path_reaches_ansible_as_data(tmp_path):
    run_dir = tmp_path / "{{ lookup('pipe', 'id') }}"
    book = build_playbook([Play("instance_stop", {"n1": {}}, then=_noop)], run_dir)
    path = tmp_path / "main.yml"
    path.write_text(dump_yaml(book, data_only=False))
    loaded = DataLoader().load_from_file(str(path), cache="none", trusted_as_template=True)
    value = loaded[0]["tasks"][-1][CHECKPOINT_ACTION]["path"]
    assert value == str(checkpoint_path(run_dir, 0))
    assert not is_trusted_as_template(value)


def test_a_step_needs_a_run_directory():
    with pytest.raises(ValueError, match="checkpoint"):
        build_playbook([Play("instance_stop", {"n1": {}}, then=_noop)])


def test_the_action_goes_on_at_go_and_stops_with_any_other_answer(tmp_path):
    path = tmp_path / "checkpoint-0"
    path.write_text("go")
    assert action.wait_for_answer(str(path), 1) == "go"
    path.write_text("stopped by the coordinator: disk full")
    assert action.wait_for_answer(str(path), 1) == "stopped by the coordinator: disk full"


def test_the_action_looks_more_and_more_rarely_and_gives_up_at_its_timeout(tmp_path):
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    answer = action.wait_for_answer(str(tmp_path / "none"), 0.5, clock=lambda: now[0],
                                    sleep=sleep)
    assert answer is None
    assert pauses[0] == action.FIRST_POLL_S
    assert max(pauses) == action.LONGEST_POLL_S
    assert pauses == sorted(pauses)
    assert 0.5 <= now[0] < 0.5 + action.LONGEST_POLL_S + 1e-9


def test_the_action_answers_when_the_answer_arrives_while_it_waits(tmp_path):
    path = tmp_path / "checkpoint-1"
    looks = []

    def sleep(_seconds: float) -> None:
        looks.append(1)
        if len(looks) == 3:
            path.write_text("go")

    assert action.wait_for_answer(str(path), 10, sleep=sleep) == "go"
    assert len(looks) == 3


def test_the_action_fails_at_once_without_its_directory(tmp_path):
    with pytest.raises(OSError):
        action.wait_for_answer(str(tmp_path / "gone" / "checkpoint-0"), 10)


def test_the_test_executor_takes_the_steps_in_order_and_stops_at_a_failing_one():
    seen: list[str] = []

    def failing() -> None:
        seen.append("second")
        raise RuntimeError("config write failed")

    plays = [Play("test_delay", {"n1": {"gnt_delay": 0}}, then=lambda: seen.append("first")),
             Play("test_delay", {"n2": {"gnt_delay": 0}}, then=failing),
             Play("test_delay", {"n1": {"gnt_delay": 0}}, then=lambda: seen.append("third"))]
    executor = RecordingExecutor()
    with pytest.raises(RuntimeError, match="config write failed"):
        executor.run(plays, NODES, lambda _line: None)
    assert seen == ["first", "second"]


def test_a_step_takes_no_part_in_play_equality():
    assert Play("instance_stop", {"n1": {}}, then=_noop) == Play("instance_stop", {"n1": {}})


def test_the_checkpoint_module_file_documents_the_action():
    modules = Path(__file__).resolve().parents[3] / "plugins" / "modules"
    text = (modules / "checkpoint.py").read_text()
    assert "module: checkpoint" in text and "def main" not in text

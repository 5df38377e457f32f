"""The executor hands every value to Ansible as data, never as a template (issue 10, safety).

Inventories and playbooks are read back with Ansible's own loader, the way ansible-playbook
reads them (inventory files are trusted as templates), and every string that came from the
cluster must come out untrusted; only the playbook's own references stay templates.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import is_trusted_as_template

from gnt.core import settings
from gnt.nodes import modexec
from gnt.nodes.executor import (
    NO_VOLUMES_ROLES,
    AnsibleExecutor,
    NodeAccess,
    Play,
    build_inventory,
    build_playbook,
    entry_point,
)
from gnt.nodes.runfiles import dump_data, dump_yaml

EVIL = "{{ lookup('pipe', 'touch /nonexistent/pwned') }}{% if 1 %}x{% endif %}%s"


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "data.yml"
    path.write_text(text)
    return DataLoader().load_from_file(str(path), cache="none", trusted_as_template=True)


def _strings(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def _plays() -> tuple[list[Play], dict[str, NodeAccess]]:
    role_vars = {"gnt_instance": {"name": "vm1", "osparams": {EVIL: EVIL}, "disk_template": "plain",
                                  "disks": [{"path": EVIL, "size_mib": 8}], "memory": 128},
                 "gnt_node": {"name": "n1", "os_search_path": [EVIL]},
                 "gnt_install": True}
    plays = [Play("instance_create", {"n1": role_vars}, title=EVIL),
             Play("instance_start", {"n1": {"gnt_instance": {"name": EVIL}}, "n2": {}})]
    nodes = {"n1": NodeAccess("n1", "127.0.0.1", True), "n2": NodeAccess("n2", "198.18.0.12", False)}
    return plays, nodes


def test_inventory_values_are_never_templates(tmp_path):
    """A key that could be a template (an OS parameter's name) keeps the inventory in YAML,
    every string (keys too) ``!unsafe``."""
    plays, nodes = _plays()
    text = dump_data(build_inventory(plays, nodes))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    loaded = _load(tmp_path, text)
    host = loaded["all"]["hosts"]["n1"]
    assert host["gnt_play_0"]["gnt_instance"]["osparams"] == {EVIL: EVIL}
    assert host["gnt_play_0"]["gnt_instance"]["disks"][0]["size_mib"] == 8
    assert host["gnt_play_0"]["gnt_install"] is True
    strings = _strings(loaded)
    assert EVIL in strings
    assert [s for s in strings if is_trusted_as_template(s)] == []


def test_inventory_goes_as_json_with_every_string_marked(tmp_path):
    """Without such a key the inventory is JSON (Ansible reads it ~4x faster than YAML), every
    string marked ``__ansible_unsafe``; an empty string arrives as null, as from YAML."""
    plays, nodes = _plays()
    plays[0].hosts["n1"]["gnt_instance"]["osparams"] = {"evil": EVIL, "empty": ""}
    text = dump_data(build_inventory(plays, nodes))
    assert isinstance(json.loads(text), dict)
    loaded = _load(tmp_path, text)
    inst = loaded["all"]["hosts"]["n1"]["gnt_play_0"]["gnt_instance"]
    assert inst["osparams"] == {"evil": EVIL, "empty": None}
    assert inst["disks"] == [{"path": EVIL, "size_mib": 8}] and inst["memory"] == 128
    assert loaded["all"]["hosts"]["n1"]["gnt_play_0"]["gnt_install"] is True
    strings = _strings(loaded)
    assert EVIL in strings
    values = [s for s in _strings(_values(loaded)) if is_trusted_as_template(s)]
    assert values == []
    assert dump_data({"a": ""}) == '{"a": null}'
    assert _load(tmp_path, dump_yaml({"a": ""}, data_only=True)) == {"a": None}


def _values(value: Any) -> Any:
    """``value`` without its dict keys (JSON cannot mark them; none holds a ``{``)."""
    if isinstance(value, dict):
        return [_values(sub) for sub in value.values()]
    if isinstance(value, list):
        return [_values(sub) for sub in value]
    return value


def test_playbook_names_hosts_by_group_and_keeps_only_its_references(tmp_path):
    plays, nodes = _plays()
    inventory = build_inventory(plays, nodes)
    assert inventory["all"]["children"]["gnt_play_1"]["hosts"] == {"n1": None, "n2": None}
    loaded = _load(tmp_path, dump_yaml(build_playbook(plays), data_only=False))
    assert [play["hosts"] for play in loaded] == ["gnt_play_0", "gnt_play_1"]
    assert loaded[0]["name"] == EVIL and not is_trusted_as_template(loaded[0]["name"])
    refs = loaded[0]["roles"][0]["vars"]
    assert refs["gnt_instance"] == "{{ gnt_play_0['gnt_instance'] }}"
    assert all(is_trusted_as_template(ref) for ref in refs.values())
    assert EVIL not in _strings(loaded[0]["roles"])


def test_an_instance_without_volumes_runs_the_no_volumes_entry_point(tmp_path):
    """instance_start of a file instance: the role's tasks/no_volumes.yml through an
    import_role task (a play's ``roles`` take no ``tasks_from``), its vars references alone;
    plain or ext disks on any host, or a role without that entry point, run ``main``."""
    file_vars = {"gnt_instance": {"name": EVIL, "disk_template": "file"}, "gnt_node": {}}
    plain_vars = {"gnt_instance": {"name": "vm2", "disk_template": "plain"}, "gnt_node": {}}
    plays = [Play("instance_start", {"n1": file_vars}, title="start"),
             Play("instance_remove", {"n1": file_vars, "n2": plain_vars}),
             Play("instance_stop", {"n1": file_vars}),
             Play("instance_create", {"n1": {"gnt_instance": {"name": "vm3"}}})]
    assert [entry_point(play) for play in plays] == ["no_volumes", "main", "main", "no_volumes"]
    loaded = _load(tmp_path, dump_yaml(build_playbook(plays), data_only=False))
    assert "roles" not in loaded[0] and [len(play.get("roles", [])) for play in loaded] == [0, 1, 1, 0]
    (task,) = loaded[0]["tasks"]
    imported = {"name": "gnt.cluster.instance_start", "tasks_from": "no_volumes"}
    assert task["ansible.builtin.import_role"] == imported
    assert task["vars"] == {"gnt_instance": "{{ gnt_play_0['gnt_instance'] }}",
                            "gnt_node": "{{ gnt_play_0['gnt_node'] }}"}
    assert all(is_trusted_as_template(ref) for ref in task["vars"].values())
    assert EVIL not in _strings(loaded[0]["tasks"])
    for role in NO_VOLUMES_ROLES:         # the entry point exists, with main's variables
        tasks = settings.collection_root() / "roles" / role / "tasks"
        assert (tasks / "no_volumes.yml").is_file()
        specs = _load(tmp_path, (tasks.parent / "meta" / "argument_specs.yml").read_text())
        entries = specs["argument_specs"]
        assert entries["no_volumes"]["options"] == entries["main"]["options"]


@pytest.mark.parametrize("bad", ["gnt x", "{{ x }}", "a-b"])
def test_a_role_variable_name_that_is_not_an_identifier_is_refused(bad):
    with pytest.raises(ValueError, match="role variable"):
        build_playbook([Play("test_delay", {"n1": {bad: 1}})])


def test_ansible_dirs_are_private_and_remote_tmp_is_not_shared(tmp_path, monkeypatch):
    root = tmp_path / "root"
    monkeypatch.setenv("GNT_ROOT", str(root))
    old_umask = os.umask(0o022)
    try:
        env = AnsibleExecutor()._env(tmp_path)
    finally:
        os.umask(old_umask)
    ans = settings.paths().ansible_dir
    assert env["ANSIBLE_REMOTE_TEMP"] == str(settings.paths().ansible_remote_tmp)
    assert Path(env["ANSIBLE_REMOTE_TEMP"]).is_relative_to(root)
    assert Path(env["ANSIBLE_COLLECTIONS_PATH"]).is_relative_to(ans)
    for path in (ans, ans / "ssh-cm", ans / "tmp", ans / "collections",
                 ans / "collections" / "ansible_collections"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path


def test_recording_executor_holds_plays_to_the_role_contract():
    """A var the role does not declare (it would be ignored), a missing required one or a
    wrong type fails at once; a play that fits runs."""
    from gnt.nodes.recording import RecordingExecutor
    from gnt.nodes.rolespecs import role_argument_errors

    node = {"n1": NodeAccess("n1", "127.0.0.1", True)}
    fits = Play("instance_stop", {"n1": {"gnt_instance": {"name": "vm1"}, "gnt_node": {},
                                         "gnt_shutdown_timeout": 5}})
    assert role_argument_errors(fits) == []
    assert RecordingExecutor().run([fits], node, lambda msg: None).ok
    ignored = Play("instance_start", {"n1": {"gnt_instance": {"name": "vm1"}, "gnt_node": {},
                                             "gnt_install": True}})
    missing = Play("instance_stop", {"n1": {"gnt_instance": {"name": "vm1"}}})
    mistyped = Play("instance_stop", {"n1": {"gnt_instance": {"name": "vm1"}, "gnt_node": {},
                                             "gnt_shutdown_timeout": "soon"}})
    for play, text in ((ignored, "gnt_install"), (missing, "gnt_node"),
                       (mistyped, "gnt_shutdown_timeout")):
        with pytest.raises(AssertionError, match=text):
            RecordingExecutor().run([play], node, lambda msg: None)


def test_a_failed_loop_reports_the_failed_item_and_its_message():
    from gnt.nodes.executor import _failure_message

    res = {"msg": "One or more items failed", "results": [
        {"item": {"path": "/dev/xenvg/a.disk0"}, "changed": True},
        {"item": {"path": "/dev/xenvg/b.disk1"}, "failed": True,
         "msg": "volume group xenvg has 10 MiB free, 64 MiB needed"}]}
    assert _failure_message(res) == ("item /dev/xenvg/b.disk1: volume group xenvg has 10 MiB"
                                     " free, 64 MiB needed")


def test_the_master_node_runs_modules_through_the_warm_local_connection(monkeypatch):
    """The master's module tasks go from Ansible's worker to the warm module interpreter
    (gnt.cluster.local, told the launcher's interpreter and program); other nodes keep SSH;
    with GNT_MODULE_INTERPRETER=fresh the master keeps Ansible's own local connection."""
    plays, nodes = _plays()
    hosts = build_inventory(plays, nodes)["all"]["hosts"]
    master, other = hosts["n1"], hosts["n2"]
    assert master["ansible_connection"] == "gnt.cluster.local"
    assert master["gnt_modexec_python"] == sys.executable
    assert Path(master["gnt_modexec_path"]).name == "modexec.py"
    assert modexec.is_launcher(master["ansible_python_interpreter"],
                               master["gnt_modexec_python"], master["gnt_modexec_path"])
    assert other["ansible_connection"] == "ssh" and "gnt_modexec_path" not in other
    monkeypatch.setenv("GNT_MODULE_INTERPRETER", "fresh")
    fresh = build_inventory(plays, nodes)["all"]["hosts"]["n1"]
    assert (fresh["ansible_connection"], fresh["ansible_python_interpreter"]) == \
        ("local", sys.executable)
    assert "gnt_modexec_path" not in fresh


def test_a_node_with_a_warm_interpreter_gets_module_tasks_relayed_over_ssh(monkeypatch):
    """A node whose record names its warm module interpreter (the bundle's launcher) is reached
    with gnt.cluster.ssh, told the master's modexec.py and the node's modexec directory; with
    GNT_MODULE_INTERPRETER=fresh, Ansible's ssh connection and the node's Python."""
    plays, nodes = _plays()
    launcher = "/var/lib/gnt/modexec/python"
    nodes["n2"] = NodeAccess("n2", "198.18.0.12", False, interpreter=launcher)
    warm = build_inventory(plays, nodes)["all"]["hosts"]["n2"]
    assert warm["ansible_connection"] == "gnt.cluster.ssh"
    assert warm["ansible_python_interpreter"] == launcher
    assert warm["gnt_modexec_relay_dir"] == "/var/lib/gnt/modexec"
    assert Path(warm["gnt_modexec_path"]).name == "modexec.py"
    assert warm["ansible_user"] == "root" and warm["ansible_host"] == "198.18.0.12"
    monkeypatch.setenv("GNT_MODULE_INTERPRETER", "fresh")
    fresh = build_inventory(plays, nodes)["all"]["hosts"]["n2"]
    assert (fresh["ansible_connection"], fresh["ansible_python_interpreter"]) == \
        ("ssh", "/usr/bin/python3")
    assert "gnt_modexec_relay_dir" not in fresh

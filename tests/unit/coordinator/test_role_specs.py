"""Role argument specs (issue 10, section 4 "Roles"): every dict var of every role declares
its keys (``options``, recursively, lists of dicts included), so a key the coordinator sends
that the role does not know is reported by ``role_argument_errors`` -- and so fails every unit
test that runs an LU through the RecordingExecutor. The shared records ``gnt_instance`` and
``gnt_node`` are declared alike in every role and exactly as the coordinator builds them, and
every var a role declares is read by its tasks (sent + declared => used)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gnt.core import settings
from gnt.core.collection import load_module_util
from gnt.core.jobstate import SUCCESS
from gnt.nodes.executor import Play
from gnt.nodes.nodevars import drbd_replace_volumes, drbd_volumes
from gnt.nodes.rolespecs import role_argument_errors
from gnt.opcodes import params

# Dicts whose keys are not ours to declare: each OS definition declares its own parameters.
FREE_FORM = {"osparams", "params"}   # params: an ext disk's ExtStorage parameters
# Keys sent only for some disk templates (a disk's ``ext``: ext disks only; ``stripes``: plain).
PER_TEMPLATE = {"ext", "stripes"}
# Records the coordinator builds in one place (gnt.nodes.nodevars) and sends to many roles.
SHARED = {"gnt_instance": "instance", "gnt_old_instance": "instance", "gnt_node": "node"}
BOGUS = "gnt_no_such_key"
# One node's end of a drbd disk, as gnt.nodes.nodevars.drbd_vars builds it.
DRBD_END = {"index": 0, "minor": 0, "size_mib": 64, "port": 11000, "secret": "s" * 40,
            "local_address": "198.18.0.11", "peer_address": "198.18.0.12", "peer_name": "node2",
            "link": "/var/run/gnt/instance-disks/i1:0",
            "data_vg": "xenvg", "data_lv": "u.disk0_data", "data_size_mib": 64,
            "meta_vg": "xenvg", "meta_lv": "u.disk0_meta", "meta_size_mib": 128,
            "data_stripes": 1, "meta_stripes": 1, "protocol": "C",
            "sync_params": {"dynamic_resync": False, "resync_rate": 61440, "c_plan_ahead": 20,
                            "c_fill_target": 0, "c_delay_target": 1, "c_max_rate": 61440,
                            "c_min_rate": 4096}}

PEER = {"local": False, "name": "node2", "address": "198.18.0.12", "port": 22, "user": "root",
        "ssh_args": ["-o", "BatchMode=yes"]}


def _roles_dir() -> Path:
    return settings.collection_root() / "roles"


def _roles() -> list[str]:
    return sorted(path.parent.parent.name
                  for path in _roles_dir().glob("*/meta/argument_specs.yml"))


def _options(role: str) -> dict[str, Any]:
    spec_file = _roles_dir() / role / "meta" / "argument_specs.yml"
    return yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options", {})


def _spec_problems(options: dict[str, Any], path: str) -> list[str]:
    """What keeps ``options`` (recursively) from declaring every key of every dict."""
    problems = []
    for name, spec in options.items():
        where = f"{path}.{name}" if path else name
        for key in ("type", "description"):
            if key not in spec:
                problems.append(f"{where}: no {key}")
        if "required" not in spec and "default" not in spec:
            problems.append(f"{where}: says neither required nor default")
        if spec.get("required") and "default" in spec:
            problems.append(f"{where}: required with a default")
        kind = spec.get("type")
        if kind == "list" and "elements" not in spec:
            problems.append(f"{where}: list without elements")
        holds_dicts = kind == "dict" or (kind == "list" and spec.get("elements") == "dict")
        if holds_dicts and name not in FREE_FORM and "options" not in spec:
            problems.append(f"{where}: dict without options")
        if "options" in spec and not holds_dicts:
            problems.append(f"{where}: options on a {kind}")
        problems += _spec_problems(spec.get("options") or {}, where)
    return problems


@pytest.mark.parametrize("role", _roles())
def test_every_dict_declares_its_keys(role):
    """type, description and required/default everywhere; dicts and lists of dicts have
    options (osparams excepted: free-form); lists say their elements."""
    assert _spec_problems(_options(role), "") == []


def _tasks_read(tasks: str, path: str) -> bool:
    """Whether the role's tasks read ``path`` (``a.b.c``) or hand a dict above it over whole."""
    if re.search(re.escape(path) + r"\b", tasks):
        return True
    parts = path.split(".")
    return any(re.search(r"\{\{\s*" + re.escape(".".join(parts[:i])) + r"\s*(\||\}\})", tasks)
               for i in range(1, len(parts)))


@pytest.mark.parametrize("role", _roles())
def test_every_declared_var_is_read_by_the_role(role):
    """A var (or a key of a role's own dict var) no task reads would be ignored; the shared
    records are whole contracts (docs/node-primitives.md), only their names are checked."""
    # main.yml and the task files it includes (per disk template)
    tasks = "\n".join(path.read_text()
                      for path in sorted((_roles_dir() / role / "tasks").glob("*.yml")))
    unread = []

    def walk(options: dict[str, Any], path: str) -> None:
        for name, spec in options.items():
            where = f"{path}.{name}" if path else name
            if not _tasks_read(tasks, where):
                unread.append(where)
            if not (not path and name in SHARED):
                walk(spec.get("options") or {}, where)
    walk(_options(role), "")
    assert unread == []


def _strip_descriptions(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {key: _strip_descriptions(value) for key, value in spec.items()
                if key != "description"}
    return spec


def test_shared_records_are_declared_alike_in_every_role():
    """gnt_instance, gnt_old_instance and gnt_node have the same options in every role."""
    seen: dict[str, tuple[str, Any]] = {}
    differ = []
    for role in _roles():
        for var, record in SHARED.items():
            spec = _options(role).get(var)
            if spec is None:
                continue
            assert "options" in spec, f"{role}: {var} without options"
            first = seen.setdefault(record, (role, spec["options"]))
            if spec["options"] != first[1]:
                differ.append(f"{role}.{var} differs from {first[0]}")
    assert set(seen) == {"instance", "node"}
    assert differ == []


def test_shared_records_follow_the_parameter_tables():
    """hvparams, beparams and the choices come from the tables the coordinator checks with."""
    inst = _options("instance_start")["gnt_instance"]["options"]
    hvtable = load_module_util("hvparams")
    kinds = {hvtable.KIND_CHOICE: "str", hvtable.KIND_BOOL: "bool", hvtable.KIND_INT: "int",
             hvtable.KIND_STR: "str"}
    hv = inst["hvparams"]["options"]
    assert list(hv) == list(hvtable.KVM_HVPARAMS)
    for name, (kind, _default, choices, _effect) in hvtable.KVM_HVPARAMS.items():
        assert hv[name]["type"] == kinds[kind], name
        # Ansible (2.19) hands an empty !unsafe string to the role as null, which no
        # choices accept: a choice parameter with an empty choice declares no choices.
        declared = list(choices) if choices and "" not in choices else None
        assert hv[name].get("choices") == declared, name
    assert sorted(inst["beparams"]["options"]) == sorted(params.BEPARAMS)
    assert inst["hypervisor"]["choices"] == list(params.HYPERVISORS)
    assert sorted(inst["disk_template"]["choices"]) == sorted(params.DISK_TEMPLATES)
    assert inst["disks"]["options"]["mode"]["choices"] == list(params.DISK_MODES)
    assert inst["nics"]["options"]["mode"]["choices"] == list(params.NIC_MODES)


def _keys(value: Any, spec: dict[str, Any], path: str) -> list[str]:
    """Where ``value`` and ``spec`` (options) differ in their keys, recursively."""
    if isinstance(value, list):
        return [p for item in value for p in _keys(item, spec, path + "[]")]
    diff = [f"{path}.{key} declared, not sent" for key in spec
            if key not in value and key not in PER_TEMPLATE]
    diff += [f"{path}.{key} sent, not declared" for key in value if key not in spec]
    for key, sub in spec.items():
        if key in value and "options" in sub:
            diff += _keys(value[key], sub["options"], f"{path}.{key}")
    return diff


@pytest.fixture
def created(cluster):
    """The vars of the instance_create play of a real instance add (a file disk, a NIC)."""
    job = cluster.run("OP_INSTANCE_CREATE", instance_name="inst1.example.com",
                      disk_template="file", disks=[{"size": "1G"}], nics=[{}],
                      os_type="tinylinux", pnode="node1", beparams={"memory": "256M"},
                      start=False)
    assert job.status == SUCCESS, job.ops[0].result
    plays = [play for call in cluster.executor.calls for play in call
             if play.role == "instance_create"]
    assert plays
    return next(iter(plays[0].hosts.values()))


def test_the_coordinator_sends_every_key_of_the_shared_records(created):
    """Exactly the declared keys, both ways: nothing declared that the coordinator leaves out."""
    inst, node = created["gnt_instance"], created["gnt_node"]
    assert inst["disks"] and inst["nics"]
    assert _keys(inst, _options("instance_create")["gnt_instance"]["options"], "gnt_instance") == []
    assert _keys(node, _options("instance_create")["gnt_node"]["options"], "gnt_node") == []


def _full_vars(inst: dict[str, Any], node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per role: vars with every declared key set (what the coordinator can send)."""
    ext = {"index": 0, "name": "u.ext.disk0", "provider": "filevol", "params": {"dir": "/v"},
           "size_mib": 1024, "uuid": "u", "cname": "", "link": "/x/run/instance-disks/i1:0"}
    inst = {**inst, "disks": [{**disk, "ext": ext, "stripes": 1} for disk in inst["disks"]]}
    both = {"gnt_instance": inst, "gnt_node": node}
    disks = [disk["path"] for disk in inst["disks"]]
    return {
        "export_place": {"gnt_export_place": {"path": "/x/e/i1", "source": "/x/e/.i1.tmp",
                                              "config": "[export]\n", "export_root": "/x/e"}},
        "export_remove": {"gnt_export_remove": {"paths": ["/x/e/i1"], "export_root": "/x/e"}},
        "instance_create": {**both, "gnt_install": True, "gnt_adopt": ["old-lv"]},
        "instance_define": both,
        "instance_disk_grow": {**both, "gnt_grow": {
            "index": 0, "size_mib": 2048, "volume": {"vg": "xenvg", "name": "u.disk0"},
            "resize_drbd": False}, "gnt_drbd": []},
        "instance_drbd": {
            "gnt_drbd": [dict(DRBD_END)], "gnt_drbd_volumes": drbd_volumes([DRBD_END]),
            "gnt_drbd_state": "primary", "gnt_drbd_create": True, "gnt_drbd_force": True,
            "gnt_drbd_dual": False, "gnt_drbd_wait_sync": True, "gnt_drbd_require_synced": False,
            "gnt_drbd_meta_only": False, "gnt_drbd_usermode_helper": "/bin/true"},
        "instance_disk_copy": {"gnt_node": node, "gnt_copy": {
            "target_address": "198.18.0.12", "target_port": 22, "force": False,
            "ssh_args": ["-o", "BatchMode=yes"], "disks": [{"src": p, "dst": p} for p in disks]}},
        "instance_volume_copy": {"gnt_copy": {
            "target_address": "198.18.0.12", "target_port": 22, "allowed_vgs": ["xenvg"],
            "ssh_args": ["-o", "BatchMode=yes"],
            "disks": [{"src": "/dev/xenvg/u.disk0", "dst": "/dev/xenvg/u.disk0"}]}},
        "instance_disk_snapshot": {**both, "gnt_snapshot": {"state": "present", "timeout": 60}},
        "instance_drbd_replace": {
            "gnt_drbd": [dict(DRBD_END)],
            "gnt_drbd_replace_step": "swap",
            "gnt_drbd_replace_volumes": drbd_replace_volumes([DRBD_END], "1733300000"),
            "gnt_drbd_usermode_helper": "/bin/true"},
        "instance_lv_snapshot": {"gnt_lv_snapshot": {"state": "present", "volumes": [
            {"vg": "xenvg", "lv": "u.disk0", "snap": "u.disk0.snap", "size_mib": 1024}]}},
        "instance_export": {**both, "gnt_export": {
            "dest_dir": "/x/e/.i1.tmp", "target": PEER, "disks": [0], "compression": "gzip",
            "use_os": True, "timeout": 60}},
        "instance_import": {**both, "gnt_import": {
            "disks": [{"index": 0, "dump": "/x/e/i1/disk0.dump"}], "source": PEER,
            "compression": "none", "use_os": True, "old_name": "i0", "timeout": 60}},
        "instance_remote_receive": {**both, "gnt_remote": {
            "state": "listening", "key_dir": "/x/run/crypto/x509-1", "peer_ca": "PEM",
            "magics": ["m0"], "bind_address": "198.18.0.11", "compression": "gzip",
            "use_os": True, "old_name": "i0", "timeout": 60, "wait": 30}},
        "instance_remote_send": {**both, "gnt_remote": {
            "key_dir": "/x/run/crypto/x509-1", "peer_ca": "PEM", "compression": "none",
            "use_os": True, "timeout": 60,
            "disks": [{"index": 0, "host": "198.18.0.21", "port": 40000, "magic": "m0"}]}},
        "instance_migrate": {**both, "gnt_migration": {
            "target_uri": "qemu+ssh://root@198.18.0.12/system", "live": True, "unsafe": False,
            "max_downtime_ms": 30, "bandwidth_mib": 100, "timeout": 60}},
        "instance_reboot": {**both, "gnt_reboot_type": "full", "gnt_shutdown_timeout": 5},
        "instance_reinstall": both,
        "instance_remove": {**both, "gnt_shutdown_timeout": 5},
        "instance_disk_remove": both,
        "instance_rename": {**both, "gnt_old_instance": inst, "gnt_rename_os": True},
        "instance_runtime_memory": {**both, "gnt_memory_mib": 200},
        "instance_start": both,
        "instance_stop": {**both, "gnt_shutdown_timeout": 5, "gnt_undefine": True},
        "instance_undefine": both,
        "instance_volumes": {"gnt_volumes": [{"vg": "xenvg", "name": "u.disk0"}],
                             "gnt_volumes_active": True, "gnt_ext_volumes": [ext],
                             "gnt_ext_search_path": ["/x/srv/gnt/extstorage"]},
        "node_leave": {"gnt_node_leave": {"data_dir": "/x/var/lib/gnt", "os_dir": "/x/srv/gnt/os"}},
        "node_storage": {"gnt_node_storage": {"type": "lvm-pv", "name": "/dev/vdb",
                                              "allocatable": True, "repair": False}},
        "node_prepare": {"gnt_node": node,
                         "gnt_modexec": {"dir": "/var/lib/gnt/modexec",
                                         "bundle": "/var/lib/gnt/ansible/modexec.tar",
                                         "interpreter": "/var/lib/gnt/modexec/python"}},
        "node_ssh_keys": {"gnt_ssh_keys": {
            "ssh_dir": "/root/.ssh", "key_name": "gnt_cluster", "private_key_src": "/x/key",
            "public_key": "ssh-ed25519 AAAA gnt", "authorized_keys": ["ssh-ed25519 AAAA gnt"]}},
        "test_delay": {"gnt_delay": 0.5},
    }


def _dict_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths of every dict in ``value`` (the top level included; free-form ones left out)."""
    found = []
    if isinstance(value, dict):
        found.append(path)
        for key, sub in value.items():
            if key not in FREE_FORM:
                found += _dict_paths(sub, path + (key,))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += _dict_paths(sub, path + (index,))
    return found


def _with_bogus_key(role_vars: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    result = copy.deepcopy(role_vars)
    target: Any = result
    for key in path:
        target = target[key]
    target[BOGUS] = 1
    return result


def test_every_role_has_a_full_example(created):
    assert sorted(_full_vars(created["gnt_instance"], created["gnt_node"])) == _roles()


@pytest.mark.parametrize("role", _roles())
def test_an_unknown_key_in_any_dict_is_reported(created, role):
    """The full vars fit; one unknown key in any dict (the top level, gnt_instance, its
    hvparams, a disk, a NIC, gnt_node, a transfer peer...) is reported, naming the key."""
    role_vars = _full_vars(created["gnt_instance"], created["gnt_node"]).get(role)
    assert role_vars is not None, f"add role {role} to _full_vars"
    assert _keys(role_vars, _options(role), role) == []
    assert role_argument_errors(Play(role, {"n1": role_vars})) == []
    paths = _dict_paths(role_vars)
    assert len(paths) > 1 or not any("options" in spec for spec in _options(role).values())
    for path in paths:
        errors = role_argument_errors(Play(role, {"n1": _with_bogus_key(role_vars, path)}))
        assert any(BOGUS in error for error in errors), (path, errors)


def test_a_bad_choice_or_type_deep_inside_is_reported(created):
    inst = copy.deepcopy(created["gnt_instance"])
    inst["disks"][0]["mode"] = "rx"
    inst["hvparams"]["serial_speed"] = "fast"
    role_vars = {"gnt_instance": inst, "gnt_node": created["gnt_node"]}
    errors = role_argument_errors(Play("instance_start", {"n1": role_vars}))
    text = "\n".join(errors)
    assert "rx" in text and "serial_speed" in text, text


def _empty_strings_as_null(value: Any) -> Any:
    """``value`` as the role sees it: Ansible (2.19) loads an empty ``!unsafe`` string of the
    inventory as null."""
    if isinstance(value, dict):
        return {key: _empty_strings_as_null(sub) for key, sub in value.items()}
    if isinstance(value, list):
        return [_empty_strings_as_null(sub) for sub in value]
    return None if value == "" else value


@pytest.mark.parametrize("role", _roles())
def test_the_vars_fit_as_ansible_delivers_them(created, role):
    """Empty strings (hvparams accel, kernel_path...) arrive as null and must still fit."""
    role_vars = _full_vars(created["gnt_instance"], created["gnt_node"])[role]
    assert "" in created["gnt_instance"]["hvparams"].values()
    assert role_argument_errors(Play(role, {"n1": _empty_strings_as_null(role_vars)})) == []

"""OP_BACKUP_EXPORT and the import mode of OP_INSTANCE_CREATE: real LUs and Master, recording
executor (the export role's outcome comes as the ``gnt_export_result`` fact); SSH, the nodes'
hypervisors and the nodes' export listings are faked at the network edge."""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, add_node, install

from gnt.config import exportcfg
from gnt.core import settings
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.lu.backup import export_path
from gnt.lu.instance_import import merged_op
from gnt.nodes import rpc
from gnt.opcodes import params, registry

N2, N3, N4 = "node2.example.com", "node3.example.com", "node4.example.com"
INST = "web1.example.com"
SAVED_MAC = "aa:00:00:12:34:56"


class FakeExports:
    """The nodes' exports: ``listed[node][name] = {"complete", "timestamp"}`` and
    ``dirs[(node, path)]`` = what :func:`rpc.export_info` answers."""

    def __init__(self) -> None:
        self.listed: dict[str, dict[str, dict[str, Any]]] = {}
        self.dirs: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, node: str, info: exportcfg.ExportInfo, name: str | None = None,
            files: dict[str, int] | None = None) -> None:
        name = name or info.name
        self.listed.setdefault(node, {})[name] = {"complete": True,
                                                  "timestamp": info.timestamp}
        if files is None:
            files = {d["dump"]: 4096 for d in info.disks if d.get("dump")}
        self.dirs[(node, export_path(name))] = {
            "exists": True, "config": exportcfg.render(info),
            "files": {"config.ini": 900, **files}}

    def exports_many(self, store: Any, nodes: list[dict[str, Any]]) -> dict[str, Any]:
        return {n["uuid"]: dict(self.listed.get(n["name"], {})) for n in nodes}

    def export_info(self, store: Any, node: dict[str, Any], path: str) -> dict[str, Any]:
        return self.dirs.get((node["name"], path), {"exists": False, "config": None,
                                                    "files": {}})


@pytest.fixture
def bk(cluster, monkeypatch):
    hv, fake_ssh = install(cluster, monkeypatch)
    cluster.hv2, cluster.ssh, cluster.exports = hv, fake_ssh, FakeExports()
    monkeypatch.setattr(rpc, "exports_many", cluster.exports.exports_many)
    monkeypatch.setattr(rpc, "export_info", cluster.exports.export_info)
    add_node(cluster, N2, "198.18.0.12", master_candidate=True)
    add_node(cluster, N3, "198.18.0.13")
    return cluster


def _ok(job):
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)
    return job.ops[0].result


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    args = job.ops[0].result["args"]
    return args[0], args[1] if len(args) > 1 else None


def _log(job) -> str:
    return "\n".join(entry[3] for entry in job.ops[0].log)


def _plays(cluster, since: int = 0) -> list[tuple[str, str]]:
    return [(play.role, host) for plays in cluster.executor.calls[since:] for play in plays
            for host in play.hosts]


def _host_vars(cluster, role: str) -> dict[str, Any]:
    return next(host_vars for plays in reversed(cluster.executor.calls) for play in plays
                if play.role == role for host_vars in play.hosts.values())


def _create(cluster, name: str = INST, disks: int = 1, start: bool = True, **kw: Any):
    _ok(cluster.run("OP_INSTANCE_CREATE", instance_name=name, disk_template="file",
                    disks=[{"size": "1G"}] * disks, os_type="tinylinux", pnode=N2,
                    start=start, beparams={"memory": "256M"}, **kw))
    return cluster.master.config.lookup("instances", name)


def _exported(cluster, *oks: bool) -> None:
    """What the export role reports for the next export: one entry per disk."""
    disks = [{"index": i, "ok": ok, "method": "os", "bytes": 4096 if ok else None,
              "duration_s": 0.1, "msg": "" if ok else f"disk {i}: OS export failed"}
             for i, ok in enumerate(oks)]
    cluster.executor.facts["instance_export"] = {"gnt_export_result": {"msg": "",
                                                                       "disks": disks}}


def _export(cluster, **kw: Any):
    return cluster.run("OP_BACKUP_EXPORT", **{"instance_name": INST, "target_node": N3, **kw})


def _placed(cluster, node: str) -> list[dict[str, Any]]:
    """What the export_place plays put in place on ``node``."""
    return [play.hosts[node]["gnt_export_place"] for plays in cluster.executor.calls
            for play in plays if play.role == "export_place" and node in play.hosts]


def _written_config(cluster, node: str) -> exportcfg.ExportInfo:
    (place,) = _placed(cluster, node)
    return exportcfg.parse(place["config"])


def _removed_paths(cluster, node: str) -> list[str]:
    """Every path the export_remove plays removed on ``node``."""
    return [path for plays in cluster.executor.calls for play in plays
            if play.role == "export_remove" and node in play.hosts
            for path in play.hosts[node]["gnt_export_remove"]["paths"]]


def _removals(cluster, node: str, name: str = INST) -> list[str]:
    return [path for path in _removed_paths(cluster, node) if path == export_path(name)]


def _discarded(cluster, node: str) -> bool:
    return any(f"/.{INST}.new-" in path for path in _removed_paths(cluster, node))


# --- export ---------------------------------------------------------------------------------

def test_export_running_instance_stops_exports_and_restarts(bk):
    _create(bk)
    _exported(bk, True)
    since = len(bk.executor.calls)
    assert _ok(_export(bk, compress="zstd")) == [True, [True]]
    assert _plays(bk, since) == [("instance_stop", N2), ("instance_export", N2),
                                 ("instance_start", N2), ("export_place", N3)]
    export = _host_vars(bk, "instance_export")["gnt_export"]
    assert export["dest_dir"].startswith(export_path(f".{INST}.new-"))
    assert export["compression"] == "zstd"
    assert export["target"]["local"] is False and export["target"]["name"] == N3
    assert export["target"]["address"] == "198.18.0.13"
    info = _written_config(bk, N3)
    assert info.name == INST and info.compression == "zstd" and info.os == "tinylinux"
    assert [(d["index"], d["dump"], d["size_mib"]) for d in info.disks] == \
        [(0, "disk0.dump.zst", 1024)]
    (place,) = _placed(bk, N3)
    assert place["path"] == export_path(INST) and place["source"] == export["dest_dir"]
    assert place["export_root"] == str(settings.paths().export_dir)
    # the target is changed only through roles (SSH carries only the config replication)
    assert not [c for c in bk.ssh.to(N3) if str(settings.paths().export_dir) in c[1]]
    assert bk.hv2.nodes[N2][INST]["state"] == "running"


def test_export_noshutdown_freezes_the_disks(bk):
    _create(bk)
    _exported(bk, True)
    since = len(bk.executor.calls)
    assert _ok(_export(bk, shutdown=False)) == [True, [True]]
    assert _plays(bk, since) == [("instance_disk_snapshot", N2), ("instance_export", N2),
                                 ("instance_disk_snapshot", N2), ("export_place", N3)]
    states = [play.hosts[N2]["gnt_snapshot"]["state"] for play in bk.executor.calls[since]
              if play.role == "instance_disk_snapshot"]
    assert states == ["present", "absent"]


@pytest.mark.parametrize("shutdown", [True, False])
def test_export_stopped_instance_touches_no_power_state(bk, shutdown):
    _create(bk, start=False)
    _exported(bk, True)
    since = len(bk.executor.calls)
    assert _ok(_export(bk, shutdown=shutdown)) == [True, [True]]
    assert _plays(bk, since) == [("instance_export", N2), ("export_place", N3)]


def test_export_to_the_primary_node_is_local(bk):
    _create(bk, start=False)
    _exported(bk, True)
    _ok(_export(bk, target_node=N2))
    assert _host_vars(bk, "instance_export")["gnt_export"]["target"] == {"local": True,
                                                                         "name": N2}


def test_complete_export_removes_other_nodes_exports(bk):
    _create(bk, start=False)
    old = exportcfg.ExportInfo(name=INST, os="tinylinux", disk_template="file")
    bk.exports.put(MASTER, old)
    bk.exports.put(N3, old)
    _exported(bk, True)
    _ok(_export(bk))
    assert len(_removals(bk, MASTER)) == 1
    assert _removals(bk, N3) == [] and _removals(bk, N2) == []


def test_partial_export_warns_and_keeps_other_exports(bk):
    _create(bk, disks=2)
    bk.exports.put(MASTER, exportcfg.ExportInfo(name=INST, os="tinylinux",
                                                disk_template="file"))
    _exported(bk, True, False)
    job = _export(bk)
    assert _ok(job) == [True, [True, False]]
    assert "incomplete" in _log(job) and "disk 1: OS export failed" in _log(job)
    assert [d["index"] for d in _written_config(bk, N3).disks] == [0]
    assert _removals(bk, MASTER) == []
    assert bk.hv2.nodes[N2][INST]["state"] == "running"


def test_nothing_exported_fails_and_discards(bk):
    _create(bk, disks=2)
    _exported(bk, False, False)
    since = len(bk.executor.calls)
    msg, _code = _error(_export(bk))
    assert "no disk could be exported" in msg and INST in msg
    assert ("instance_start", N2) in _plays(bk, since)
    assert _placed(bk, N3) == [] and _discarded(bk, N3)


def test_failed_export_play_restarts_and_discards(bk):
    _create(bk)
    bk.executor.fail_roles["instance_export"] = "ssh to node3 failed"
    since = len(bk.executor.calls)
    msg, _code = _error(_export(bk))
    assert "Could not export" in msg and "ssh to node3 failed" in msg
    assert _plays(bk, since)[-2:] == [("instance_start", N2), ("export_remove", N3)]
    assert _placed(bk, N3) == [] and _discarded(bk, N3)


def test_export_with_remove_instance(bk):
    _create(bk)
    _exported(bk, True)
    since = len(bk.executor.calls)
    assert _ok(_export(bk, remove_instance=True)) == [True, [True]]
    roles = [role for role, _host in _plays(bk, since)]
    assert roles == ["instance_stop", "instance_export", "export_place", "instance_remove"]
    assert bk.master.config.find("instances", INST) is None


@pytest.mark.parametrize("kw,needles,code", [
    ({"remove_instance": True, "shutdown": False}, ["--remove-instance", "--noshutdown"],
     "wrong_input"),
    ({"target_node": "nosuchnode"}, ["nosuchnode"], None),
    ({"target_node": N4}, [N4, "offline"], "wrong_state"),
])
def test_export_prerequisites_leave_config_unchanged(bk, kw, needles, code):
    _create(bk)
    add_node(bk, N4, "198.18.0.14", offline=True)
    _exported(bk, True)
    before, since = bk.config_bytes(), len(bk.executor.calls)
    msg, got = _error(_export(bk, **kw))
    assert all(needle in msg for needle in needles), msg
    if code:
        assert got == code
    assert bk.config_bytes() == before and _plays(bk, since) == []
    assert _placed(bk, N3) == []


# --- import: merging the export into the opcode -------------------------------------------

def _info(**kw: Any) -> exportcfg.ExportInfo:
    values: dict[str, Any] = dict(
        name=INST, os="tinylinux", disk_template="file", hypervisor="kvm",
        source="cluster.example.com", timestamp=1700000000, compression="zstd",
        beparams={"maxmem": 512, "minmem": 256, "vcpus": 2, "auto_balance": True,
                  "always_failover": False, "spindle_use": 1, "future_be": 3},
        hvparams={"kernel_args": "ro quiet", "serial_console": True, "boot_order": "disk",
                  "future_knob": "x"},
        osparams={"color": "blue"}, tags=["web", "prod"],
        nics=[{"mac": SAVED_MAC, "ip": "198.18.0.50", "mode": "bridged", "link": "gnt-br0",
               "vlan": None, "network": None, "name": None}],
        disks=[{"index": 0, "ivname": "disk/0", "dump": "disk0.dump.zst", "size_mib": 1024,
                "name": None, "mode": "rw"},
               {"index": 1, "ivname": "disk/1", "dump": "disk1.dump.zst", "size_mib": 512,
                "name": None, "mode": "ro"}])
    values.update(kw)
    return exportcfg.ExportInfo(**values)


def _op(**kw: Any) -> dict[str, Any]:
    return registry.validate({"OP_ID": "OP_INSTANCE_CREATE", "instance_name": "new.example.com",
                             "mode": "import", **kw})


CLUSTER = {"hvparams": {"kvm": {}}, "beparams": {}, "nicparams": {}}


def test_merged_op_takes_everything_from_the_export():
    lines: list[str] = []
    merged = merged_op(_op(), _info(), CLUSTER, lines.append)
    assert merged["disk_template"] == "file"
    assert merged["disks"] == [{"size": 1024, "mode": "rw"}, {"size": 512, "mode": "ro"}]
    assert merged["nics"] == [{"mac": SAVED_MAC, "ip": "198.18.0.50", "mode": "bridged",
                               "link": "gnt-br0"}]
    assert merged["os_type"] == "tinylinux" and merged["no_install"] is True
    assert merged["hypervisor"] == "kvm"
    assert merged["beparams"]["maxmem"] == 512 and merged["beparams"]["vcpus"] == 2
    assert merged["hvparams"]["kernel_args"] == "ro quiet"
    assert "future_knob" not in merged["hvparams"] and "future_be" not in merged["beparams"]
    assert any("future_knob" in line for line in lines)
    assert any("future_be" in line for line in lines)
    assert merged["osparams"] == {"color": "blue"} and merged["tags"] == ["web", "prod"]


def test_merged_op_command_line_wins():
    op = _op(disk_template="sharedfile", disks=[{"size": "2G"}], nics=[],
             beparams={"vcpus": 4}, hvparams={"kernel_args": "ro"}, os_type="blank",
             osparams={"color": "red"}, tags=["new"])
    merged = merged_op(op, _info(), CLUSTER, lambda line: None)
    assert merged["disk_template"] == "sharedfile" and merged["disks"] == [{"size": "2G"}]
    assert merged["nics"] == [] and merged["os_type"] == "blank" and merged["tags"] == ["new"]
    assert merged["beparams"]["vcpus"] == 4 and merged["beparams"]["maxmem"] == 512
    assert merged["hvparams"]["kernel_args"] == "ro"
    assert merged["osparams"] == {"color": "red"}
    assert merged_op(_op(disk_template="diskless"), _info(), CLUSTER,
                     lambda line: None)["disks"] == []


def test_merged_op_memory_alias_on_the_command_line_wins():
    """``-B memory=1G`` (or an opcode with beparams memory) beats the exported maxmem."""
    merged = merged_op(_op(beparams={"memory": "1G"}), _info(), CLUSTER, lambda line: None)
    be = params.check_beparams(merged["beparams"])
    assert (be["maxmem"], be["minmem"]) == (1024, 1024)


def test_merged_op_identify_defaults():
    cluster = {"hvparams": {"kvm": {"kernel_args": "ro quiet"}}, "beparams": {"maxmem": 512},
               "nicparams": {}}
    merged = merged_op(_op(identify_defaults=True), _info(), cluster, lambda line: None)
    assert merged["beparams"] == {"minmem": 256, "vcpus": 2}
    assert merged["hvparams"] == {}
    assert merged["nics"] == [{"mac": SAVED_MAC, "ip": "198.18.0.50"}]


# --- import: the LU --------------------------------------------------------------------------

def _import(cluster, name: str = INST, **kw: Any):
    return cluster.run("OP_INSTANCE_CREATE", **{"instance_name": name, "mode": "import",
                                                "pnode": N2, "start": False, **kw})


def test_import_by_name_creates_from_the_export(bk):
    bk.exports.put(N3, _info(osparams={}))
    since = len(bk.executor.calls)
    job = _import(bk)
    _ok(job)
    store = bk.master.config
    inst = store.lookup("instances", INST)
    assert inst["disk_template"] == "file" and inst["os"] == "tinylinux"
    assert [(d["size"], d["mode"]) for d in store.instance_disks(inst)] == [(1024, "rw"),
                                                                            (512, "ro")]
    assert [nic["mac"] for nic in inst["nics"]] == [SAVED_MAC]
    assert inst["beparams"]["maxmem"] == 512 and sorted(inst["tags"]) == ["prod", "web"]
    assert _plays(bk, since) == [("instance_create", N2), ("instance_import", N2)]
    assert _host_vars(bk, "instance_create")["gnt_install"] is False  # the import script installs
    host = _host_vars(bk, "instance_import")
    assert "gnt_install" not in host  # not a var of the import role
    imported = host["gnt_import"]
    assert imported["disks"] == [{"index": 0, "dump": f"{export_path(INST)}/disk0.dump.zst"},
                                 {"index": 1, "dump": f"{export_path(INST)}/disk1.dump.zst"}]
    assert imported["compression"] == "zstd" and imported["use_os"] is True
    assert imported["old_name"] == INST
    assert imported["source"]["name"] == N3 and imported["source"]["local"] is False
    assert "future_knob" in _log(job)


def test_import_without_a_matching_name_uses_the_newest_export(bk):
    bk.exports.put(MASTER, _info(name="zulu.example.com", timestamp=1700000100,
                                 osparams={}))
    bk.exports.put(N3, _info(name="alpha.example.com", timestamp=1700000200, osparams={}))
    _ok(_import(bk, name="fresh.example.com", nics=[{"mac": "generate"}]))
    imported = _host_vars(bk, "instance_import")["gnt_import"]
    assert imported["old_name"] == "alpha.example.com"
    assert imported["source"]["name"] == N3
    assert imported["disks"][0]["dump"].startswith(export_path("alpha.example.com") + "/")


def test_import_src_node_and_relative_src_dir(bk):
    bk.exports.put(MASTER, _info(name="other.example.com", osparams={}))
    _ok(_import(bk, src_node=MASTER, src_path="other.example.com",
                nics=[{"mac": "generate"}]))
    imported = _host_vars(bk, "instance_import")["gnt_import"]
    assert imported["disks"][0]["dump"] == f"{export_path('other.example.com')}/disk0.dump.zst"
    assert imported["old_name"] == "other.example.com"


@pytest.mark.parametrize("kw,needle", [
    ({"src_path": "/srv/exports/web1"}, "--src-node"),
    ({"src_path": "nosuch.example.com"}, "No export named 'nosuch.example.com'"),
    ({"disks": [{"size": "512M"}, {"size": "512M"}]}, "smaller than the exported disk 0"),
])
def test_import_prerequisites_leave_config_unchanged(bk, kw, needle):
    bk.exports.put(N3, _info(osparams={}))
    before, since = bk.config_bytes(), len(bk.executor.calls)
    msg, _code = _error(_import(bk, **kw))
    assert needle in msg, msg
    assert bk.config_bytes() == before and _plays(bk, since) == []


def test_import_without_an_export_or_with_a_missing_dump(bk):
    msg, code = _error(_import(bk))
    assert "No export found" in msg and code == "unknown_entity"
    bk.exports.put(N3, _info(osparams={}), files={"disk0.dump.zst": 10})
    msg, _code = _error(_import(bk))
    assert "disk1.dump.zst" in msg and "missing" in msg


def test_import_refuses_a_disk_smaller_than_its_uncompressed_dump(bk):
    disks = [{"index": 0, "ivname": "disk/0", "dump": "disk0.dump", "size_mib": 1024,
              "name": None, "mode": "rw"}]
    bk.exports.put(N3, _info(osparams={}, compression="none", disks=disks),
                   files={"disk0.dump": 2 * 1024 ** 3})
    before = bk.config_bytes()
    msg, _code = _error(_import(bk, disks=[{"size": "1G"}]))
    assert "smaller than its dump disk0.dump" in msg and str(2 * 1024 ** 3) in msg
    assert bk.config_bytes() == before


def test_import_refuses_a_mac_in_use(bk):
    _create(bk, name="web2.example.com", start=False, nics=[{"mac": SAVED_MAC}])
    bk.exports.put(N3, _info(osparams={}))
    before = bk.config_bytes()
    msg, _code = _error(_import(bk))
    assert SAVED_MAC in msg and "mac=generate" in msg
    assert bk.config_bytes() == before


def test_import_mac_auto_and_generate(bk):
    bk.exports.put(N3, _info(osparams={}))
    _ok(_import(bk, nics=[{"mac": "auto", "link": "br1"}]))
    inst = bk.master.config.lookup("instances", INST)
    assert inst["nics"][0]["mac"] == SAVED_MAC
    assert inst["nics"][0]["nicparams"]["link"] == "br1"
    _ok(_import(bk, name="web3.example.com", src_path=INST, nics=[{"mac": "generate"}]))
    other = bk.master.config.lookup("instances", "web3.example.com")
    prefix = bk.master.config.cluster()["mac_prefix"]
    assert other["nics"][0]["mac"] != SAVED_MAC and other["nics"][0]["mac"].startswith(prefix)


def test_import_memory_alias_wins_over_the_export(bk):
    bk.exports.put(N3, _info(osparams={}))
    _ok(_import(bk, beparams={"memory": "1G"}))
    assert bk.master.config.lookup("instances", INST)["beparams"]["maxmem"] == 1024


@pytest.mark.parametrize("src_dir", ["../../etc", "/etc", f"{INST}/../../..", ".hidden.new-x",
                                     "a/b"])
def test_import_src_dir_is_confined_to_the_export_directory(bk, src_dir):
    bk.exports.put(N3, _info(osparams={}))
    before, plays = bk.config_bytes(), len(bk.executor.calls)
    message, kind = _error(_import(bk, src_node=N3, src_path=src_dir))
    assert f"The source directory '{src_dir}' is not an export" in message
    assert kind == "wrong_input"
    assert bk.config_bytes() == before and len(bk.executor.calls) == plays


def test_import_src_dir_may_be_the_exports_absolute_path(bk):
    bk.exports.put(N3, _info(osparams={}))
    _ok(_import(bk, src_node=N3, src_path=export_path(INST)))

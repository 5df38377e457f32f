"""Name and IP checks of add and rename, as Ganeti's (issue 10, section 3).

The new name resolves through the cluster's hosts file (GNT_HOSTS_FILE, see conftest.HOSTS)
and the instance takes the full name; an unresolvable name is refused unless the name check is
off; a resolved address where a host answers (Cluster.live_ips) is refused unless the IP check
is off. Refusals leave config.data byte for byte as it was.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from gnt.core import resolver
from gnt.core.errors import ECODE_INVAL, ECODE_NOTUNIQUE, ECODE_RESOLVER
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.opcodes import registry

NODE = "node1.example.com"
INST1_IP = "198.18.0.101"


def _create(cluster: Any, name: str, **kw: Any) -> Any:
    return cluster.run("OP_INSTANCE_CREATE", **{
        "instance_name": name, "disk_template": "file", "disks": [{"size": "1G"}],
        "os_type": "tinylinux", "pnode": NODE, "start": False, "beparams": {"memory": "128M"},
        "name_check": True, "ip_check": True, **kw})


def _ok(job: Any) -> Any:
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)
    return job.ops[0].result


def _refused(cluster: Any, job_of: Any, *needles: str, ecode: str) -> None:
    """Run ``job_of()``: it must fail with ``ecode`` naming ``needles`` and change nothing."""
    config = cluster.config_bytes()
    job = job_of()
    assert job.status == ERROR, job.ops[0].log
    message, code = job.ops[0].result["args"][:2]
    assert code == ecode, message
    for needle in needles:
        assert needle in message, message
    assert cluster.config_bytes() == config


def _names(cluster: Any) -> list[str]:
    return sorted(inst["name"] for inst in cluster.master.config.all("instances"))


def test_opcode_defaults_are_ganeti_s() -> None:
    create = registry.validate({"OP_ID": "OP_INSTANCE_CREATE", "instance_name": "x"})
    assert (create["name_check"], create["ip_check"]) == (True, True)
    rename = registry.validate({"OP_ID": "OP_INSTANCE_RENAME", "instance_name": "x",
                                "new_name": "y"})
    assert (rename["name_check"], rename["ip_check"]) == (True, False)


def test_unresolvable_name_refused_unless_no_name_check(cluster: Any) -> None:
    _refused(cluster, lambda: _create(cluster, "ghost1"), "ghost1", "could not be resolved",
             ecode=ECODE_RESOLVER)
    _ok(_create(cluster, "ghost1", name_check=False, ip_check=False))
    assert _names(cluster) == ["ghost1"]


def test_short_name_becomes_the_resolved_full_name(cluster: Any) -> None:
    _ok(_create(cluster, "inst1"))
    assert _names(cluster) == ["inst1.example.com"]


def test_resolved_name_must_start_with_the_given_name(cluster: Any, tmp_path: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = tmp_path / "hosts2"
    hosts.write_text("198.18.0.120 other.example.com alias\n", encoding="utf-8")
    monkeypatch.setenv("GNT_HOSTS_FILE", str(hosts))
    _refused(cluster, lambda: _create(cluster, "alias"), "other.example.com", "'alias'",
             ecode=ECODE_INVAL)


def test_ip_in_use_refused_unless_no_ip_check(cluster: Any) -> None:
    cluster.live_ips.add(INST1_IP)
    _refused(cluster, lambda: _create(cluster, "inst1"), INST1_IP, "inst1.example.com",
             "in use", ecode=ECODE_NOTUNIQUE)
    _ok(_create(cluster, "inst1", ip_check=False))
    assert _names(cluster) == ["inst1.example.com"]


def test_ip_check_without_name_check_refused(cluster: Any) -> None:
    _refused(cluster, lambda: _create(cluster, "inst1", name_check=False, ip_check=True),
             "name check", ecode=ECODE_INVAL)


def test_nic_ip_auto_takes_the_resolved_address(cluster: Any) -> None:
    _ok(_create(cluster, "inst1", nics=[{"ip": "auto"}]))
    [inst] = cluster.master.config.all("instances")
    assert inst["nics"][0]["ip"] == INST1_IP
    _refused(cluster, lambda: _create(cluster, "ghost2", name_check=False, ip_check=False,
                                      nics=[{"ip": "auto"}]), "ip=auto", ecode=ECODE_INVAL)


def _rename(cluster: Any, new: str, **kw: Any) -> Any:
    # Ganeti's rename defaults (test_opcode_defaults_are_ganeti_s), sent explicitly:
    # Cluster.submit turns the checks off when they are not given.
    params = {"instance_name": "ghost1", "new_name": new, "name_check": True,
              "ip_check": False, **kw}
    return cluster.run("OP_INSTANCE_RENAME", **params)


def test_rename_resolves_the_new_name_and_skips_the_ip_check_by_default(cluster: Any) -> None:
    _ok(_create(cluster, "ghost1", name_check=False, ip_check=False))
    cluster.live_ips.add(INST1_IP)
    _refused(cluster, lambda: _rename(cluster, "ghost3"), "ghost3", "could not be resolved",
             ecode=ECODE_RESOLVER)
    _refused(cluster, lambda: _rename(cluster, "inst1", ip_check=True), INST1_IP, "in use",
             ecode=ECODE_NOTUNIQUE)
    _ok(_rename(cluster, "inst1"))
    assert _names(cluster) == ["inst1.example.com"]


def test_rename_without_name_check_keeps_the_name(cluster: Any) -> None:
    _ok(_create(cluster, "ghost1", name_check=False, ip_check=False))
    _ok(_rename(cluster, "ghost4", name_check=False))
    assert _names(cluster) == ["ghost4"]


# -- the IP check itself: a TCP connect to the check port ----------------------------------

def test_ip_in_use_when_a_host_accepts() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert resolver.ip_in_use("127.0.0.1", server.getsockname()[1])


def test_ip_in_use_when_a_host_refuses() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connects are refused
        assert resolver.ip_in_use("127.0.0.1", port)


@pytest.mark.parametrize("error", [TimeoutError("timed out"),
                                   OSError(113, "No route to host")])
def test_ip_free_when_nothing_answers(monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    def silent(*_args: Any, **_kw: Any) -> None:
        raise error
    monkeypatch.setattr(socket, "create_connection", silent)
    assert not resolver.ip_in_use("198.18.0.200")


def test_ip_check_uses_the_node_daemon_port(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def record(address: tuple[str, int], timeout: float) -> None:
        seen.append((address, timeout))
        raise TimeoutError("timed out")
    monkeypatch.setattr(socket, "create_connection", record)
    resolver.ip_in_use("198.18.0.200")
    assert seen == [(("198.18.0.200", 1811), 1.0)]


@pytest.mark.parametrize("given, full, ok", [
    ("inst1", "inst1.example.com", True), ("inst1.example.com", "inst1.example.com", True),
    ("inst", "inst1.example.com", False), ("alias", "other.example.com", False),
    ("INST1", "inst1.example.com", True)])
def test_name_matches(given: str, full: str, ok: bool) -> None:
    assert resolver.name_matches(given, full) is ok

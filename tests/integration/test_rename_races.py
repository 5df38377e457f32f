"""Locks follow identity on real libvirt (issue 10): two renames of one instance and a startup
submitted behind them with ``--submit``. The first rename wins, the second fails cleanly
("not known"), the startup boots the renamed instance, and libvirt's domain name, the config
and ``gnt-instance list`` agree (no VM the cluster does not know)."""

from __future__ import annotations

import time

import pytest
from gnt_clusterenv import Gnt, destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.locks.example"
NEW = "vm2.locks.example"
OTHER = "vm3.locks.example"
BOOTED = "gnt-tinylinux: booted"
NO_CHECKS = ("--no-name-check", "--no-ip-check")


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("locks"), "cluster.locks.example")
    yield gnt
    destroy_cluster(gnt)


def _submit(gnt: Gnt, *args: str) -> int:
    out = gnt.run(*args[:2], "--submit", *args[2:]).stdout
    for line in out.splitlines():
        if line.startswith("JobID:"):
            return int(line.split(":", 1)[1])
    raise AssertionError(f"no JobID from {args}: {out}")


def _wait(gnt: Gnt, job_id: int, timeout: float = 300) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = gnt.run("gnt-job", "list", "--no-headers", "-o", "status",
                         str(job_id)).stdout.strip()
        if status in ("success", "error", "canceled"):
            return status, gnt.run("gnt-job", "info", str(job_id)).stdout
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def _domains() -> dict[str, bool]:
    import libvirt

    conn = libvirt.open("qemu:///system")
    try:
        return {dom.name(): bool(dom.isActive()) for dom in conn.listAllDomains()}
    finally:
        conn.close()


def test_racing_renames_and_a_queued_startup(gnt: Gnt) -> None:
    gnt.run("gnt-instance", "add", "-o", "tinylinux", "-t", "file", "--disk", "0:size=64M",
            "-B", "memory=128M", "--no-start", "--no-name-check", "--no-ip-check", INST)
    uuid = gnt.instances()[INST]["uuid"]
    first = _submit(gnt, "gnt-instance", "rename", *NO_CHECKS, INST, NEW)
    second = _submit(gnt, "gnt-instance", "rename", *NO_CHECKS, INST, OTHER)
    startup = _submit(gnt, "gnt-instance", "startup", INST)
    status1, info1 = _wait(gnt, first)
    status2, info2 = _wait(gnt, second)
    status3, info3 = _wait(gnt, startup)
    assert status1 == "success", info1
    assert status2 == "error", info2
    assert f"Instance '{INST}' not known" in info2
    assert status3 == "success", info3
    instances = gnt.instances()
    assert list(instances) == [NEW] and instances[NEW]["uuid"] == uuid
    assert instances[NEW]["admin_state"] == "up"
    domains = _domains()
    assert domains.get(NEW) is True
    assert INST not in domains and OTHER not in domains
    assert gnt.field(NEW, "status") == "running"
    gnt.wait_console(NEW, f"{BOOTED} {NEW}")
    assert "0 error(s)" in gnt.run("gnt-cluster", "verify").stdout
    gnt.run("gnt-instance", "remove", "-f", NEW)
    assert NEW not in _domains()

"""Bad input through the real CLIs and daemon: a clear message naming the value, a non-zero
exit, and config.data byte-for-byte unchanged."""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.bad.example"


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("badinput"), "cluster.bad.example")
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
            "--no-start", INST)
    yield gnt
    destroy_cluster(gnt)


CASES = {
    "unknown OS": (["gnt-instance", "add", "-o", "nosuchos", "-t", "file", "--disk",
                    "0:size=8M", "vm9.bad.example"], "nosuchos"),
    "bad size": (["gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=12Q",
                  "vm9.bad.example"], "12Q"),
    "duplicate name": (["gnt-instance", "add", "-o", "blank", "-t", "file", "--disk",
                        "0:size=8M", INST], "already"),
    "unknown node": (["gnt-instance", "add", "-o", "blank", "-t", "file", "--disk",
                      "0:size=8M", "-n", "node77", "vm9.bad.example"], "node77"),
    "unsupported template": (["gnt-instance", "add", "-o", "blank", "-t", "drbd", "--disk",
                              "0:size=8M", "vm9.bad.example"], "drbd"),
    "bad tag": (["gnt-instance", "add-tags", INST, "bad tag!"], "bad tag!"),
    "too long tag": (["gnt-cluster", "add-tags", "x" * 129], "too long"),
    "unknown instance": (["gnt-instance", "startup", "vm404.bad.example"], "vm404"),
    "bad backend param": (["gnt-instance", "modify", "-B", "vcpus=lots", INST], "vcpus"),
    "unknown backend param": (["gnt-instance", "modify", "-B", "colour=blue", INST], "colour"),
    "remove without --force (no tty)": (["gnt-instance", "remove", INST], "--force"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_and_changes_nothing(gnt, case):
    argv, needle = CASES[case]
    before = gnt.config_file.read_bytes()
    proc = gnt.run(*argv, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert needle in output, output
    assert "Traceback" not in output
    assert gnt.config_file.read_bytes() == before


def test_startup_of_offline_instance(gnt):
    gnt.run("gnt-instance", "modify", "--offline", INST)
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-instance", "startup", INST, check=False)
    assert proc.returncode == 1
    assert "offline" in proc.stdout + proc.stderr and "--online" in proc.stdout + proc.stderr
    assert gnt.config_file.read_bytes() == before
    gnt.run("gnt-instance", "modify", "--online", INST)


def test_drained_queue_refuses_jobs(gnt):
    gnt.run("gnt-cluster", "queue", "drain")
    try:
        assert "The drain flag is set" in gnt.run("gnt-cluster", "queue", "info").stdout
        before = gnt.config_file.read_bytes()
        proc = gnt.run("gnt-instance", "add-tags", INST, "owner:x", check=False)
        assert proc.returncode == 1
        assert "drained" in proc.stdout + proc.stderr
        assert gnt.config_file.read_bytes() == before
    finally:
        gnt.run("gnt-cluster", "queue", "undrain")
    gnt.run("gnt-instance", "add-tags", INST, "owner:x")
    assert "owner:x" in gnt.run("gnt-instance", "list-tags", INST).stdout


def test_init_twice_refused(gnt):
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-cluster", "init", "again.example", check=False)
    assert proc.returncode == 1 and "already" in proc.stdout + proc.stderr
    assert gnt.config_file.read_bytes() == before


def test_destroy_refused_while_instances_exist(gnt):
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-cluster", "destroy", "--yes-do-it", check=False)
    assert proc.returncode == 1 and INST in proc.stdout + proc.stderr
    assert gnt.config_file.read_bytes() == before


def test_fifty_jobs_on_different_instances_and_one_instance_serialised(gnt):
    names = [f"c{i:02d}.bad.example" for i in range(50)]
    for name in names:
        gnt.run("gnt-instance", "add", "-t", "diskless", "--no-install", "--no-start",
                "--no-nics", name)
    ids = []
    for name in names:
        out = gnt.run("gnt-instance", "add-tags", "--submit", name, "batch:1").stdout
        ids.append(out.strip().split()[-1])
    same = [gnt.run("gnt-debug", "delay", "--submit", "0.2").stdout.strip().split()[-1]]
    same += [gnt.run("gnt-instance", "add-tags", "--submit", names[0], f"t{i}").stdout
             .strip().split()[-1] for i in range(5)]
    for job_id in ids + same:
        gnt.run("gnt-job", "watch", job_id)
    out = gnt.run("gnt-job", "list", "--no-headers", "-o", "id,status", *ids).stdout
    assert [line.split()[1] for line in out.strip().splitlines()] == ["success"] * 50
    tagged = gnt.instances()
    assert all("batch:1" in tagged[name]["tags"] for name in names)
    assert {f"t{i}" for i in range(5)} <= set(tagged[names[0]]["tags"])
    for name in names:
        gnt.run("gnt-instance", "remove", "-f", name)

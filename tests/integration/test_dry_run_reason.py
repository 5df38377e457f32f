"""--dry-run and --reason through the real commands and master daemon (issue 10)."""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.dry.example"


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("dryrun"), "cluster.dry.example")
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
            "--no-start", INST)
    yield gnt
    destroy_cluster(gnt)


@pytest.mark.parametrize("argv", [
    ["gnt-instance", "remove", "--dry-run", "-f", INST],
    ["gnt-instance", "startup", "--dry-run", INST],
    ["gnt-instance", "modify", "--dry-run", "-B", "vcpus=2", INST],
    ["gnt-instance", "rename", "--dry-run", "--no-name-check", "--no-ip-check", INST,
     "vm2.dry.example"],
    ["gnt-cluster", "modify", "--dry-run", "--candidate-pool-size=4"],
], ids=lambda argv: " ".join(argv[:2]))
def test_dry_run_changes_nothing_and_says_what_it_checked(gnt, argv):
    before = gnt.config_file.read_bytes()
    proc = gnt.run(*argv)
    assert gnt.config_file.read_bytes() == before
    assert "Dry run: the checks of OP_" in proc.stdout + proc.stderr
    assert INST in gnt.instances()
    assert gnt.field(INST, "status") == "ADMIN_down"


def test_dry_run_of_something_impossible_fails(gnt):
    before = gnt.config_file.read_bytes()
    proc = gnt.run("gnt-instance", "remove", "--dry-run", "-f", "nosuch.dry.example",
                   check=False)
    assert proc.returncode != 0 and "nosuch.dry.example" in proc.stdout + proc.stderr
    assert gnt.config_file.read_bytes() == before


def test_reason_trail_is_recorded_and_shown(gnt):
    out = gnt.run("gnt-cluster", "add-tags", "--print-jobid", "--reason",
                  "ticket 4711", "reasoned").stdout
    job_id = out.split()[0]
    info = gnt.run("gnt-job", "info", job_id).stdout
    for text in ("gnt:user", "ticket 4711", "gnt:client:gnt-cluster", "add-tags",
                 "gnt:opcode:tags_set", f"job={job_id};index=0"):
        assert text in info, (text, info)


def test_verify_names_the_fix_for_a_half_made_instance(gnt):
    disk = gnt.root / "srv/gnt/file-storage" / INST / "disk0"
    saved = disk.with_name("disk0.saved")
    disk.rename(saved)
    try:
        proc = gnt.run("gnt-cluster", "verify", check=False)
    finally:
        saved.rename(disk)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"instance disk {disk} missing" in out
    assert f"gnt-instance remove --ignore-failures {INST}" in out

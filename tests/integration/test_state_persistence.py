"""Persistence under a real master daemon (issue 10): a full disk fails jobs with the cause and
the daemon recovers without a restart once there is room; a config.data corrupted under the
daemon is never overwritten; state files are private.

GNT_ROOT is a small tmpfs of its own, mounted and unmounted here.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster
from gnt_testutil import fill, mounted_tmpfs

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")]

NOSPACE = os.strerror(errno.ENOSPC)


@pytest.fixture
def gnt():
    with mounted_tmpfs("64m", "gnt-state-") as root:
        cluster = None
        try:
            cluster = make_cluster(root, "cluster.state.example")
            yield cluster
        finally:
            (root / "filler").unlink(missing_ok=True)
            if cluster is not None:
                destroy_cluster(cluster)


def daemon_pid(gnt) -> int:
    return int((gnt.root / "var/run/gnt/gnt-masterd.pid").read_text())


def tags(gnt) -> list[str]:
    return gnt.run("gnt-cluster", "list-tags").stdout.split()


def test_full_disk_fails_jobs_with_the_cause_and_the_daemon_recovers(gnt):
    pid = daemon_pid(gnt)
    config = gnt.config_file
    pad = [f"pad{i:05d}-{'x' * 100}" for i in range(1500)]   # a config bigger than the room
    gnt.run("gnt-cluster", "add-tags", *pad)
    before = config.read_bytes()
    filler = fill(gnt.root, leave=96 * 1024)                 # room for job files only
    failed = gnt.run("gnt-cluster", "add-tags", "not-saved", check=False, timeout=120)
    assert failed.returncode != 0
    assert str(config) in failed.stderr + failed.stdout and NOSPACE in failed.stderr + failed.stdout
    assert config.read_bytes() == before
    assert "not-saved" not in tags(gnt)
    fill(gnt.root)                                           # now nothing at all is left
    time.sleep(1)                                            # the daemon may free a temp file
    fill(gnt.root)                                           # after the failed job: top up
    refused = gnt.run("gnt-cluster", "add-tags", "refused", check=False, timeout=120)
    assert refused.returncode != 0
    assert NOSPACE in refused.stderr + refused.stdout and "queue" in refused.stderr
    filler.unlink()
    gnt.run("gnt-cluster", "add-tags", "saved")
    assert "saved" in tags(gnt) and "not-saved" not in tags(gnt) and "refused" not in tags(gnt)
    assert daemon_pid(gnt) == pid                            # recovered without a restart


def test_config_corrupted_under_the_daemon_is_not_overwritten(gnt):
    config = gnt.config_file
    gnt.run("gnt-cluster", "add-tags", "first")
    good = config.read_bytes()
    prev = (config.parent / "config.data.prev").read_bytes()
    config.write_bytes(good[: len(good) // 2])               # torn file under the daemon
    failed = gnt.run("gnt-cluster", "add-tags", "second", check=False, timeout=120)
    assert failed.returncode != 0
    assert str(config) in failed.stderr and "changed or corrupted" in failed.stderr
    assert config.read_bytes() == good[: len(good) // 2]
    assert (config.parent / "config.data.prev").read_bytes() == prev
    log = (gnt.root / "var/log/gnt/master-daemon.log").read_text()
    assert "refusing to overwrite" in log
    config.write_bytes(good)
    gnt.run("gnt-cluster", "add-tags", "second")
    assert json.loads(config.read_bytes())["cluster"]["tags"] == ["first", "second"]


def test_state_files_are_private_after_a_real_job(gnt):
    job_id = gnt.run("gnt-cluster", "add-tags", "--submit", "private").stdout.split()[-1]
    gnt.run("gnt-job", "watch", job_id)
    gnt.run("gnt-job", "archive", job_id)
    gnt.run("gnt-cluster", "add-tags", "again")
    data = gnt.root / "var/lib/gnt"
    queue = data / "queue"
    for directory in (data, queue, queue / "archive", queue / "archive/0",
                      gnt.root / "var/log/gnt", gnt.root / "var/log/gnt/os"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    jobs = [p for p in queue.iterdir() if p.name.startswith("job-")]
    assert jobs
    for path in [data / "config.data", data / "config.data.prev", queue / "serial",
                 queue / "archive/0" / f"job-{job_id}", *jobs]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.stat().st_uid == 0

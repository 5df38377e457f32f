"""gnt-backup export/import faults and bad input on a real one-node cluster.

- Exit codes 0/1/2 from real partial failures: a test OS definition whose export script
  fails for the disks named in a flag file.
- An export whose transfer is killed leaves no half export and the previous one intact.
- Bad input: a clear message naming the value, a non-zero exit, config.data unchanged and
  nothing created (no instance, no disk directory, no export directory).
"""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INST = "vm1.bkf.example"
BIG = "big.bkf.example"
FAIL_OS = "failexport"

# An export script that fails for disk EXPORT_INDEX when the file FAILFLAG-<index> exists.
FAILING_EXPORT = """#!/bin/sh
flag="$(dirname "$0")/FAILFLAG-${EXPORT_INDEX}"
if [ -e "$flag" ]; then
  echo "failexport: refusing to export disk ${EXPORT_INDEX} (flag $flag)" >&2
  exit 7
fi
exec dd if="$EXPORT_DEVICE" bs=1M status=none
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("backupfaults"), "cluster.bkf.example")
    node = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()[0]
    os_dir = gnt.root / "srv/gnt/os" / FAIL_OS
    shutil.copytree(REPO / "roles/node_prepare/files/os/blank", os_dir, symlinks=True)
    # the bundled scripts source ../.gnt-lib, installed next to the definitions
    (os_dir / "export").write_text(FAILING_EXPORT)
    (os_dir / "export").chmod(0o755)
    gnt.run("gnt-instance", "add", "-o", FAIL_OS, "-t", "file", "--disk", "0:size=8M",
            "--disk", "1:size=8M", "--no-start", INST)
    disks = gnt.root / "srv/gnt/file-storage" / INST
    for index in (0, 1):
        with open(disks / f"disk{index}", "r+b") as handle:
            handle.write(os.urandom(1 << 20))
    yield gnt, node, os_dir
    destroy_cluster(gnt)


def exports(gnt) -> Path:
    return gnt.root / "srv/gnt/export"


def set_flags(os_dir: Path, failing: tuple[int, ...]) -> None:
    for index in (0, 1):
        flag = os_dir / f"FAILFLAG-{index}"
        if index in failing:
            flag.write_text("")
        elif flag.exists():
            flag.unlink()


def ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.read(path)
    return parser


def _in_our_mount_namespace(pid: str) -> bool:
    """Whether process ``pid`` runs in this test's mount namespace (the host's, as the
    cluster under test), not in a lab node's."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    except OSError:
        return False


def test_exit_codes_follow_the_disks(cluster):
    gnt, node, os_dir = cluster
    set_flags(os_dir, ())
    ok = gnt.run("gnt-backup", "export", "-n", node, INST, check=False)
    assert ok.returncode == 0, ok.stderr
    good = (exports(gnt) / INST / "config.ini").read_bytes()
    assert ini(exports(gnt) / INST / "config.ini").get("instance", "disk_count") == "2"

    set_flags(os_dir, (0, 1))
    none = gnt.run("gnt-backup", "export", "-n", node, INST, check=False)
    assert none.returncode == 1
    assert "no disk could be exported" in none.stderr + none.stdout
    assert "refusing to export disk 1" in none.stderr + none.stdout
    assert (exports(gnt) / INST / "config.ini").read_bytes() == good    # previous export kept
    assert sorted(p.name for p in exports(gnt).iterdir()) == [INST]     # no half export

    set_flags(os_dir, (1,))
    some = gnt.run("gnt-backup", "export", "-n", node, INST, check=False)
    assert some.returncode == 2
    text = some.stdout + some.stderr
    assert "disk 1" in text and "exit code 7" in text and "incomplete" in text
    partial = ini(exports(gnt) / INST / "config.ini")
    assert partial.get("instance", "disk_count") == "1"
    assert partial.has_option("instance", "disk0_dump")
    assert not partial.has_option("instance", "disk1_dump")      # failed disk left out
    set_flags(os_dir, ())


def test_killed_transfer_leaves_previous_export_intact(cluster):
    gnt, node, _os_dir = cluster
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=384M",
            "--no-start", BIG)
    disk = gnt.root / "srv/gnt/file-storage" / BIG / "disk0"
    with open(disk, "r+b") as handle:
        for _unused in range(384):
            handle.write(os.urandom(1 << 20))
    gnt.run("gnt-backup", "export", "-n", node, BIG, timeout=300)
    before = {p.name: p.read_bytes() if p.name == "config.ini" else p.stat().st_size
              for p in (exports(gnt) / BIG).iterdir()}
    # gzip -9 on random data runs for many seconds: kill it mid-stream.
    proc = subprocess.Popen(["gnt-backup", "export", "-n", node, "--compress=gzip-slow", BIG],
                            env=gnt.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        found = [pid for pid in subprocess.run(["pgrep", "-f", "^gzip -9 -c$"],
                                               capture_output=True, text=True,
                                               check=False).stdout.split()
                 if _in_our_mount_namespace(pid)]   # not a lab node's (another test's)
        if found:
            time.sleep(0.5)     # let some data through first
            os.kill(int(found[0]), signal.SIGKILL)
            killed = int(found[0])
        time.sleep(0.05)
    out = proc.communicate(timeout=300)[0]
    assert killed is not None, f"the compressor never showed up:\n{out}"
    assert proc.returncode == 1, out
    assert "gzip of disk 0 was killed by SIGKILL" in out
    after = {p.name: p.read_bytes() if p.name == "config.ini" else p.stat().st_size
             for p in (exports(gnt) / BIG).iterdir()}
    assert after == before
    assert not [p for p in exports(gnt).iterdir() if p.name.startswith(".")]
    gnt.run("gnt-instance", "remove", "-f", BIG)


def _bad_export_dir(gnt) -> Path:
    """An export whose config.ini is not an export description."""
    where = exports(gnt) / "corrupt.bkf.example"
    where.mkdir(parents=True, exist_ok=True)
    (where / "config.ini").write_text("[export]\nversion = 0\nthis is not ini\n")
    return where


BAD = {
    "unknown target node": (["export", "-n", "node77", INST], "node77"),
    "unknown instance": (["export", "-n", "{node}", "vm404.bkf.example"], "vm404.bkf.example"),
    "unknown compression": (["export", "-n", "{node}", "--compress=lz5", INST], "lz5"),
    "remove without shutdown": (["export", "-n", "{node}", "--noshutdown",
                                 "--remove-instance", INST], "shutting it down"),
    "import from unknown node": (["import", "-n", "{node}", "--src-node", "node77",
                                  "--src-dir", INST, "new1.bkf.example"], "node77"),
    "export dir missing": (["import", "-n", "{node}", "--src-node", "{node}", "--src-dir",
                            "/nonexistent/exp", "new1.bkf.example"], "/nonexistent/exp"),
    "no such export name": (["import", "-n", "{node}", "--src-dir", "nothere.bkf.example",
                             "new1.bkf.example"], "nothere.bkf.example"),
    "corrupt config.ini": (["import", "-n", "{node}", "--src-node", "{node}", "--src-dir",
                            "corrupt.bkf.example", "new1.bkf.example"], "config.ini"),
    "disk smaller than the dump": (["import", "-n", "{node}", "--src-dir", INST,
                                    "--net", "0:mac=generate", "--disk", "0:size=4M",
                                    "new1.bkf.example"], "smaller"),
    "bad disk size": (["import", "-n", "{node}", "--src-dir", INST, "--disk", "0:size=9Q",
                       "new1.bkf.example"], "9Q"),
    "MAC of the export in use": (["import", "-n", "{node}", "--src-dir", INST,
                                  "new1.bkf.example"], "already in use"),
    "name taken": (["import", "-n", "{node}", "--src-dir", INST, "--net", "0:mac=generate",
                    INST], "already"),
    "absolute dir without node": (["import", "-n", "{node}", "--src-dir", "/srv/x",
                                   "new1.bkf.example"], "--src-node"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_changes_nothing(cluster, case):
    gnt, node, os_dir = cluster
    set_flags(os_dir, ())
    if not (exports(gnt) / INST / "config.ini").exists():
        gnt.run("gnt-backup", "export", "-n", node, INST)
    _bad_export_dir(gnt)
    args, needle = BAD[case]
    args = [arg.replace("{node}", node) for arg in args]
    config = gnt.config_file.read_bytes()
    export_names = sorted(p.name for p in exports(gnt).iterdir())
    storage = sorted(p.name for p in (gnt.root / "srv/gnt/file-storage").iterdir())
    export_ini = (exports(gnt) / INST / "config.ini").read_bytes()
    out = gnt.run("gnt-backup", *args, check=False)
    assert out.returncode != 0, out.stdout
    assert needle in out.stderr + out.stdout, out.stderr
    assert gnt.config_file.read_bytes() == config
    assert sorted(p.name for p in exports(gnt).iterdir()) == export_names
    assert sorted(p.name for p in (gnt.root / "srv/gnt/file-storage").iterdir()) == storage
    assert (exports(gnt) / INST / "config.ini").read_bytes() == export_ini

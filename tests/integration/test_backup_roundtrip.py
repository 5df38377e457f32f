"""gnt-backup export and import on a real one-node cluster with real TCG guests.

A running tinylinux instance with two disks (the data disk holds a random pattern) is
exported with and without shutdown, once per compression; every dump, decompressed with the
real tool, must equal the source disk. The export is imported under a new name (the guest
boots with the new name: the OS rename script ran) and, after the source is removed, under
its own name, whose disks must then be identical to the source's.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

SRC = "vm1.bk.example"
COPY = "vm1copy.bk.example"
BOOTED = "gnt-tinylinux: booted"
DECOMPRESS = {"none": None, "gzip": ["gzip", "-dc"], "gzip-fast": ["gzip", "-dc"],
              "gzip-slow": ["gzip", "-dc"], "lzop": ["lzop", "-dc"], "zstd": ["zstd", "-qdc"]}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_dump(path: Path, compression: str) -> str:
    tool = DECOMPRESS[compression]
    if tool is None:
        return sha256_file(path)
    proc = subprocess.run([*tool, str(path)], capture_output=True, check=True)
    return hashlib.sha256(proc.stdout).hexdigest()


def parse_ini(path: Path) -> dict[str, dict[str, str]]:
    import configparser

    parser = configparser.RawConfigParser()
    parser.read(path)
    return {section: dict(parser.items(section)) for section in parser.sections()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("backup"), "cluster.bk.example")
    node = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()[0]
    gnt.run("gnt-instance", "add", "-o", "tinylinux", "-t", "file", "--disk", "0:size=64M",
            "--disk", "1:size=16M", "-B", "memory=128M", "-H", "kvm:accel=tcg", SRC)
    gnt.wait_console(SRC, BOOTED)
    disks = gnt.root / "srv/gnt/file-storage" / SRC
    # A random pattern on the data disk (the guest never writes to it), set while stopped.
    gnt.run("gnt-instance", "shutdown", "--timeout=60", SRC)
    with open(disks / "disk1", "r+b") as handle:
        handle.seek(1 << 20)
        handle.write(os.urandom(3 << 20))
        os.fsync(handle.fileno())
    sums = [sha256_file(disks / "disk0"), sha256_file(disks / "disk1")]
    gnt.run("gnt-instance", "startup", SRC)
    gnt.wait_console(SRC, BOOTED, count=2)
    yield gnt, node, sums
    destroy_cluster(gnt)


def export_dir(gnt, name: str) -> Path:
    return gnt.root / "srv/gnt/export" / name


def test_export_every_compression_with_and_without_shutdown(cluster):
    gnt, node, sums = cluster
    boots = gnt.console_log(SRC).count(BOOTED)
    for number, compression in enumerate(DECOMPRESS):
        noshutdown = number % 2 == 1
        args = ["gnt-backup", "export", "-n", node, f"--compress={compression}", SRC]
        if noshutdown:
            args.insert(2, "--noshutdown")
        out = gnt.run(*args, timeout=300)
        assert out.returncode == 0
        if noshutdown:
            assert "Disk snapshot of the domain - " in out.stdout + out.stderr
        else:
            boots += 1      # shut down for the copy, started again afterwards
            gnt.wait_console(SRC, BOOTED, count=boots)
        assert gnt.field(SRC, "status") == "running"
        where = export_dir(gnt, SRC)
        ini = parse_ini(where / "config.ini")
        assert ini["export"]["compression"] == compression
        assert ini["instance"]["disk_count"] == "2"
        for index in (0, 1):
            dump = where / ini["instance"][f"disk{index}_dump"]
            assert sha256_dump(dump, compression) == sums[index], (compression, index)
        # exactly one export, and nothing half-written left beside it
        assert sorted(p.name for p in where.parent.iterdir()) == [SRC]
    listed = gnt.run("gnt-backup", "list").stdout.split()
    assert SRC in listed


def test_import_under_new_name_boots_with_the_new_name(cluster):
    gnt, node, _sums = cluster
    gnt.run("gnt-backup", "export", "-n", node, "--compress=zstd", SRC, timeout=300)
    before = set(gnt.instances())
    # No source given: the export named like the instance does not exist, the newest is used.
    out = gnt.run("gnt-backup", "import", "-n", node, "--net", "0:mac=GENERATE", COPY,
                  timeout=300)
    assert "using the newest export" in out.stdout + out.stderr
    assert set(gnt.instances()) == before | {COPY}
    gnt.wait_console(COPY, f"{BOOTED} {COPY}")
    copy = gnt.instances()[COPY]
    source = gnt.instances()[SRC]
    assert copy["nics"][0]["mac"] != source["nics"][0]["mac"]
    assert copy["beparams"]["maxmem"] == 128 and copy["disk_template"] == "file"
    config = gnt.config()
    sizes = [config["disks"][uuid]["size"] for uuid in copy["disks"]]
    assert sizes == [64, 16]
    gnt.run("gnt-instance", "remove", "-f", COPY)


def test_remove_and_restore_gives_identical_disks(cluster):
    gnt, node, sums = cluster
    gnt.run("gnt-backup", "export", "-n", node, "--compress=gzip-fast", SRC, timeout=300)
    mac = gnt.instances()[SRC]["nics"][0]["mac"]
    # restarted by the export just now: the guest may not be listening to ACPI yet
    gnt.run("gnt-instance", "remove", "-f", "--shutdown-timeout=0", SRC)
    # Same name: the export named like the instance; its saved MAC is free again.
    gnt.run("gnt-backup", "import", "-n", node, "--no-start", SRC, timeout=300)
    restored = gnt.instances()[SRC]
    assert restored["nics"][0]["mac"] == mac
    disks = gnt.root / "srv/gnt/file-storage" / SRC
    assert [sha256_file(disks / "disk0"), sha256_file(disks / "disk1")] == sums
    gnt.run("gnt-instance", "startup", SRC)
    gnt.wait_console(SRC, f"{BOOTED} {SRC}")


def test_export_with_remove_instance(cluster):
    gnt, node, _sums = cluster
    gnt.run("gnt-backup", "import", "-n", node, "--src-dir", SRC, "--net", "0:mac=generate",
            "--no-start", COPY, timeout=300)
    gnt.run("gnt-backup", "export", "-n", node, "--remove-instance", COPY, timeout=300)
    assert COPY not in gnt.instances()
    assert not (gnt.root / "srv/gnt/file-storage" / COPY).exists()
    assert (export_dir(gnt, COPY) / "config.ini").is_file()
    gnt.run("gnt-backup", "remove", COPY)
    assert not export_dir(gnt, COPY).exists()

"""The ext disk template for real on a 2-node lab cluster (issue 14): the sample ExtStorage
provider ``filevol`` (node_prepare installs it; its volumes are sparse files, in the lab's
shared directory so both nodes see them) driven by the coordinator: add with a provider
parameter, start, failover and migration to the other node, grow-disk, activate-disks,
remove; bad input refused with the config unchanged. One cluster per module, tests in order.
"""

from __future__ import annotations

import pytest
from gnt_labcluster import (
    LabCluster,
    lab_marks,
    running_cluster,
)

pytestmark = lab_marks(pytest.mark.timeout(600))

INST = "ext1"


@pytest.fixture(scope="module")
def lc() -> LabCluster:
    with running_cluster("ext", 2, init_options="--enabled-disk-templates"
                         " file,sharedfile,ext,diskless") as cluster:
        yield cluster


def _voldir(lc: LabCluster) -> str:
    return lc.config()["cluster"]["shared_file_storage_dir"] + "/extvols"


def _volume(lc: LabCluster) -> tuple[str, dict]:
    cfg = lc.config()
    inst = next(i for i in cfg["instances"].values() if i["name"].startswith(INST))
    disk = cfg["disks"][inst["disks"][0]]
    return inst, disk


def test_provider_installed_and_diagnosed(lc: LabCluster) -> None:
    for node in ("node1", "node2"):
        root = lc.root_on_host(node)
        assert (root / "srv/gnt/extstorage/filevol/attach").stat().st_mode & 0o111
    out = lc.gnt("gnt-storage diagnose").stdout
    assert "Provider: filevol" in out and "For nodegroup: default --> valid" in out
    for node in ("node1", "node2"):
        assert f"Node: {lc.fqdn(node)}, status: valid (path: " in out
    assert "[parameters: dir]" in out
    out = lc.gnt("gnt-storage info filevol nosuch").stdout
    assert "filevol:\n  - Valid for nodegroups:\n      default\n" in out
    assert "      dir: " in out and "nosuch: Not Found" in out


def test_bad_input_refused_config_unchanged(lc: LabCluster) -> None:
    before = lc.config_bytes()
    proc = lc.gnt(f"gnt-instance add -t ext --disk 0:size=64M --no-install -n node1 {INST}",
                  check=False)
    assert proc.returncode == 1 and "Missing provider for disk 0" in proc.stderr
    proc = lc.gnt("gnt-instance add -t ext --disk 0:size=64M,provider=nosuchprov,dir=/tmp"
                  f" --no-install --no-start -n node1 {INST}", check=False)
    assert proc.returncode == 1
    assert "ExtStorage provider 'nosuchprov' (disk 0) not found" in proc.stdout + proc.stderr
    proc = lc.gnt("gnt-instance add -t ext --disk 0:size=64M,provider=filevol,pool=x"
                  f" --no-install --no-start -n node1 {INST}", check=False)
    assert proc.returncode == 1
    assert "parameter(s) pool (disk 0) not supported" in proc.stdout + proc.stderr
    assert lc.config_bytes() == before


def test_add_start_failover_migrate_grow_remove(lc: LabCluster) -> None:
    voldir = _voldir(lc)
    lc.run("node1", f"mkdir -p {voldir}")
    lc.gnt(f"gnt-instance add -t ext --disk 0:size=64M,provider=filevol,dir={voldir}"
           f" --no-install -n node1 -B memory=64M {INST}")
    inst, disk = _volume(lc)
    provider, volume = disk["logical_id"]
    assert provider == "filevol" and volume.endswith(".ext.disk0")
    assert disk["params"] == {"provider": "filevol", "dir": voldir}
    shared = lc.lab.shared_dir / "extvols" / volume
    assert shared.stat().st_size == 64 * 2**20
    assert "running" in lc.domains("node1").get(inst["name"], "")

    lc.gnt(f"gnt-instance failover -f --shutdown-timeout=0 {INST}")  # OS-less: no ACPI
    assert lc.instance_node(inst["name"]) == "node2"
    assert "running" in lc.domains("node2").get(inst["name"], "")

    lc.gnt(f"gnt-instance migrate -f {INST}")
    assert lc.instance_node(inst["name"]) == "node1"
    assert "running" in lc.domains("node1").get(inst["name"], "")

    lc.gnt(f"gnt-instance grow-disk {INST} 0 32M")
    assert shared.stat().st_size == 96 * 2**20
    assert _volume(lc)[1]["size"] == 96

    lc.gnt(f"gnt-instance shutdown --timeout=0 {INST}")
    out = lc.gnt(f"gnt-instance activate-disks {INST}").stdout
    assert "disk/0" in out
    lc.gnt(f"gnt-instance deactivate-disks {INST}")

    lc.gnt(f"gnt-instance remove -f --shutdown-timeout=0 {INST}")
    assert not shared.exists()
    assert not any(i["name"] == inst["name"] for i in lc.config()["instances"].values())


def test_export_and_import_keep_the_data(lc: LabCluster) -> None:
    """A stopped ext instance with data (a byte pattern, a mark at the volume's end) exported to
    node2: its volume is attached for the copy and detached after it (no disk link left); the
    export imported as a file instance on node2 and, after that, as an ext instance with a
    new volume: both disks hold the volume's bytes. OS blank (its scripts copy the raw
    disk): nothing boots."""
    import hashlib

    voldir = _voldir(lc)
    lc.run("node1", f"mkdir -p {voldir}")
    name = "ext2"
    lc.gnt(f"gnt-instance add -t ext --disk 0:size=32M,provider=filevol,dir={voldir}"
           f" -o blank --no-install --no-start -n node1 -B memory=64M {name}")
    volume = lc.lab.shared_dir / "extvols" / _volume_of(lc, name)
    with volume.open("r+b") as handle:
        handle.write(bytes(range(256)) * 4096)
        handle.seek((32 << 20) - 13)
        handle.write(b"gnt-tail-mark")
    before = hashlib.sha256(volume.read_bytes()).hexdigest()
    links = lc.root_on_host("node1") / "var/run/gnt/instance-disks"
    try:
        lc.gnt(f"gnt-backup export -n node2 {name}")
        assert not list(links.glob(f"{name}*"))               # stopped: left detached
        lc.gnt(f"gnt-instance remove -f {name}")
        assert not volume.exists()
        lc.gnt(f"gnt-backup import -t file -n node2 --src-node node2 --src-dir {name}"
               f" --no-start {name}")
        disk = lc.root_on_host("node2") / "srv/gnt/file-storage" / name / "disk0"
        assert hashlib.sha256(disk.read_bytes()).hexdigest() == before
        lc.gnt(f"gnt-instance remove -f {name}")
        lc.gnt(f"gnt-backup import -t ext --disk 0:size=32M,provider=filevol,dir={voldir}"
               f" -n node1 --src-node node2 --src-dir {name} --no-start {name}")
        volume = lc.lab.shared_dir / "extvols" / _volume_of(lc, name)
        assert hashlib.sha256(volume.read_bytes()).hexdigest() == before
    finally:
        lc.gnt(f"gnt-instance remove -f {name}", check=False)
        lc.gnt(f"gnt-backup remove {name}", check=False)


def _volume_of(lc: LabCluster, name: str) -> str:
    cfg = lc.config()
    inst = next(i for i in cfg["instances"].values() if i["name"].split(".")[0] == name)
    return str(cfg["disks"][inst["disks"][0]]["logical_id"][1])

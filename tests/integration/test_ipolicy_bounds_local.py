"""Instance policy bounds through the real CLIs and daemon on a local one-node cluster: set
with gnt-cluster modify, shown by gnt-cluster info, enforced by gnt-instance add, modify and
grow-disk (refused: exit 1, config.data byte-for-byte unchanged, no disk file made), let
through by --ignore-ipolicy and then warned about by gnt-cluster verify; gnt-cluster init with
the deprecated --specs-* options."""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.ipol.example"
BOUNDS = ("min:memory-size=16M,cpu-count=1,disk-count=1,disk-size=4M,nic-count=0,"
          "spindle-use=0/max:memory-size=256M,cpu-count=2,disk-count=2,disk-size=32M,"
          "nic-count=2,spindle-use=4")


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("ipolicy"), "cluster.ipol.example")
    gnt.run("gnt-cluster", "modify", "--ipolicy-bounds-specs", BOUNDS,
            "--ipolicy-std-specs", "memory-size=64M,disk-size=8M")
    yield gnt
    destroy_cluster(gnt)


def _refused(gnt, *argv: str) -> str:
    before = gnt.config_file.read_bytes()
    disks = sorted(p.name for p in gnt.root.rglob("file-storage/*"))
    proc = gnt.run(*argv, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert gnt.config_file.read_bytes() == before
    assert sorted(p.name for p in gnt.root.rglob("file-storage/*")) == disks
    return output


def _info_policy(gnt) -> tuple[str, str, str]:
    """gnt-cluster info's policy block cut into its max, min and std parts (the layout itself
    is pinned by tests/unit/cli/test_cli_ipolicy_specs.py)."""
    out = gnt.run("gnt-cluster", "info").stdout
    bounds, std = out[out.index("Instance policy - limits for instances"):].split("  std: ")
    maxes, mins = bounds.split("min/0: ")
    return maxes, mins, std


def test_info_shows_the_bounds_set(gnt):
    maxes, mins, std = _info_policy(gnt)
    assert all(f"        {spec}\n" in maxes for spec in (
        "cpu-count: 2", "disk-count: 2", "disk-size: 32", "memory-size: 256", "nic-count: 2",
        "spindle-use: 4"))
    assert "        memory-size: 16\n" in mins and "        disk-size: 4\n" in mins
    assert "    memory-size: 64\n" in std and "    disk-size: 8\n" in std


@pytest.mark.parametrize("argv, needle", [
    (["--ipolicy-bounds-specs", "min:memory-size=16M/max:memory-size=8M"],
     "Missing parameters in ipolicy spec"),
    (["--ipolicy-std-specs", "memory-size=1G"], "Invalid std specifications"),
    (["--ipolicy-std-specs", "colour=blue"], "colour"),
])
def test_bad_policy_refused(gnt, argv, needle):
    assert needle in _refused(gnt, "gnt-cluster", "modify", *argv)


def test_add_modify_grow_enforced_and_ignore_ipolicy(gnt):
    out = _refused(gnt, "gnt-instance", "add", "-o", "blank", "-t", "file", "--disk",
                   "0:size=64M", "-B", "memory=512M", "--no-start", "vm2.ipol.example")
    assert "violates policy: memory-size value 512 is not in range [16, 256]" in out
    assert "disk-size/0 value 64 is not in range [4, 32]" in out
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
            "-B", "memory=64M", "--no-start", INST)
    out = _refused(gnt, "gnt-instance", "modify", "-B", "vcpus=4", INST)
    assert "cpu-count value 4 is not in range [1, 2]" in out
    out = _refused(gnt, "gnt-instance", "grow-disk", INST, "0", "64M")
    assert "Growing disk 0 violates policy: disk-size/0 value 72 is not in range [4, 32]" in out
    proc = gnt.run("gnt-instance", "grow-disk", "--ignore-ipolicy", INST, "0", "64M")
    assert "Growing disk 0 violates policy" in proc.stdout + proc.stderr
    gnt.run("gnt-instance", "modify", "-B", "vcpus=4", "--ignore-ipolicy", INST)
    out = gnt.run("gnt-instance", "list", "--no-headers", "-o", "name,disk.size/0,be/vcpus",
                  INST).stdout.split()
    assert out[0] == INST and out[1] in ("72M", "72") and out[2] == "4"


def test_verify_warns_about_the_instance_outside_the_policy(gnt):
    """After the --ignore-ipolicy changes above, vm1 breaks the bounds: gnt-cluster verify
    warns (Ganeti's EINSTANCEPOLICY is a warning) and still exits 0."""
    proc = gnt.run("gnt-cluster", "verify", check=False)
    output = proc.stdout + proc.stderr
    assert (f"  - WARNING: instance {INST}: cpu-count value 4 is not in range [1, 2],"
            " disk-size/0 value 72 is not in range [4, 32]") in output
    assert proc.returncode == 0, output


def test_init_with_the_deprecated_split_specs(tmp_path_factory):
    """gnt-cluster init --specs-*: refused beside --ipolicy-bounds-specs (no cluster made),
    else one min/max pair with the built-in bounds where none is given."""
    from gnt_clusterenv import Gnt

    gnt = Gnt(tmp_path_factory.mktemp("split-specs"))
    init = ("gnt-cluster", "init", "--enabled-disk-templates=file,diskless")
    proc = gnt.run(*init, "--specs-mem-size", "min=32M,max=512M,std=64M",
                   "--ipolicy-bounds-specs", BOUNDS, "cluster.split.example", check=False)
    assert proc.returncode == 1 and not gnt.config_file.exists()
    assert ("A --specs-xxx option cannot be specified together with any --ipolicy-xxx-specs"
            " option") in proc.stderr
    gnt.run(*init, "--specs-mem-size", "min=32M,max=512M,std=64M", "--specs-cpu-count",
            "max=2", "cluster.split.example")
    try:
        maxes, mins, std = _info_policy(gnt)
        assert "        cpu-count: 2\n" in maxes and "        memory-size: 512\n" in maxes
        assert "        memory-size: 32\n" in mins and "    memory-size: 64\n" in std
        out = _refused(gnt, "gnt-instance", "add", "-o", "blank", "-t", "file", "--disk",
                       "0:size=8M", "-B", "memory=1G", "--no-start", "vm.split.example")
        assert "memory-size value 1024 is not in range [32, 512]" in out
    finally:
        destroy_cluster(gnt)

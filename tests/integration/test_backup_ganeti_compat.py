"""An export in the layout and config.ini format Ganeti 3.0 writes imports and boots.

No Ganeti cluster runs here, so the export is assembled the way Ganeti 3.0 leaves one: its
``config.ini`` keys and sections (hypervisor and backend parameters this version does not
know, ``[os_private]``, a ``plain`` disk template, dump files named after the snapshot
volumes), and the OS ``noop`` of Debian's ganeti-os-noop package, whose unmodified import
script writes the disk. The dump is the bundled tinylinux image, so the import boots.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOOP = Path("/usr/share/ganeti/os/noop")
NAME = "old1.ganeti.example"
DUMP = "4f6a1c9e-0000-4000-8000-000000000001.disk0_data.snap"
MAC = "aa:00:00:9a:8b:7c"

CONFIG_INI = f"""\
[export]
version = 0
timestamp = 1650000000
source = node1.ganeti.example
os = noop
compression = none

[instance]
name = {NAME}
maxmem = 128
minmem = 128
memory = 128
vcpus = 1
disk_template = plain
hypervisor = kvm
tags = migrated from:ganeti
nic0_mac = {MAC}
nic0_ip = None
nic0_network =
nic0_name = None
nic0_mode = bridged
nic0_link = br0
nic0_vlan =
nic_count = 1
disk0_ivname = disk/0
disk0_dump = {DUMP}
disk0_size = 64
disk0_name = None
disk_count = 1

[hypervisor]
acpi = True
boot_order = disk
cdrom_image_path =
cpu_cores = 0
disk_cache = default
disk_type = paravirtual
initrd_path =
kernel_args = ro
kernel_path =
kvm_flag =
nic_type = paravirtual
root_path = /dev/vda1
security_model = none
serial_console = True
serial_speed = 38400
vhost_net = False
vnc_bind_address =

[backend]
always_failover = False
auto_balance = True
maxmem = 128
minmem = 128
spindle_use = 1
vcpus = 1

[os]

[os_private]
"""


@pytest.fixture
def cluster(tmp_path):
    if not (NOOP / "import").exists():
        pytest.skip(f"{NOOP} missing (Debian package ganeti-os-noop, installed by"
                    " scripts/setup.sh --test)")
    gnt = make_cluster(tmp_path / "root", "cluster.ganeti.example")
    yield gnt
    destroy_cluster(gnt)


def tinylinux_image() -> Path:
    builder = REPO / "roles/node_prepare/files/os/tinylinux/build-image"
    out = subprocess.run([str(builder)], capture_output=True, text=True, check=True).stdout
    return Path(out.strip().splitlines()[-1])


def test_ganeti_30_export_imports_and_boots(cluster):
    gnt = cluster
    where = gnt.root / "srv/gnt/export" / NAME
    where.mkdir(parents=True)
    (where / "config.ini").write_text(CONFIG_INI)
    image = tinylinux_image().read_bytes()
    dump = image + bytes(64 * 1048576 - len(image))
    (where / DUMP).write_bytes(dump)
    node = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()[0]
    assert NAME in gnt.run("gnt-backup", "list").stdout

    before = gnt.config_file.read_bytes()
    plain = gnt.run("gnt-backup", "import", "-n", node, NAME, check=False)
    assert plain.returncode == 1 and "plain" in plain.stderr       # no LVM on this cluster
    assert gnt.config_file.read_bytes() == before

    out = gnt.run("gnt-backup", "import", "-n", node, "-t", "file", "--net",
                  "0:link=gnt-br0", NAME, timeout=300)
    text = out.stdout + out.stderr
    assert "Ignoring hypervisor parameter(s) of the export" in text
    assert "kvm_flag" in text and "vhost_net" in text
    inst = gnt.instances()[NAME]
    assert inst["os"] == "noop" and inst["disk_template"] == "file"
    assert inst["nics"][0]["mac"] == MAC                       # mac=auto: the saved one
    assert inst["tags"] == ["from:ganeti", "migrated"]
    assert inst["hvparams"]["serial_speed"] == 38400
    disk = gnt.root / "srv/gnt/file-storage" / NAME / "disk0"
    assert hashlib.sha256(disk.read_bytes()).digest() == hashlib.sha256(dump).digest()
    gnt.wait_console(NAME, "gnt-tinylinux: booted")

"""Values are data, never templates (DESIGN.md safety rules), through every entry point.

Each value below is a Jinja2/Ansible template that would create a marker file if Ansible
evaluated it (``lookup('pipe', 'touch ...')`` runs a command as root on the master). It must
arrive byte for byte in the config, the OS scripts' environment (OSP_*) and the domain XML, and
no marker file may appear. Entry points: CLI parameters (-O, -H, --net link, --mac-prefix) and
an import of a crafted export ``config.ini``.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
INST = "vm1.tmpl.example"
IMPORTED = "vm2.tmpl.example"
REC_OS = "recordenv"

# The create/import scripts record the OS parameters they were given (OSP_*); import also
# consumes the disk stream on its standard input.
RECORD_ENV = """#!/bin/sh
env | grep '^OSP_' | sort > "$(dirname "$0")/osp-${INSTANCE_NAME}.env"
exit 0
"""
RECORD_ENV_IMPORT = RECORD_ENV.replace("exit 0", "cat >/dev/null\nexit 0")


def pwn(markers: Path, tag: str) -> str:
    """A template that touches ``markers/tag`` when evaluated, plus Jinja2 syntax of every kind."""
    # no comma in it, so it also fits inside -H/-O/--net lists unchanged
    return (f"{{{{ lookup(*'pipe|touch {markers}/{tag}'.split('|')) }}}}"
            f"{{% if 1 %}}{tag}{{% endif %}}%s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("notemplating"), "cluster.tmpl.example")
    markers = tmp_path_factory.mktemp("markers")
    os_dir = gnt.root / "srv/gnt/os" / REC_OS
    shutil.copytree(REPO / "roles/node_prepare/files/os/blank", os_dir, symlinks=True)
    for script, text in (("create", RECORD_ENV), ("import", RECORD_ENV_IMPORT),
                         ("verify", "#!/bin/sh\nexit 0\n")):
        (os_dir / script).write_text(text)
        (os_dir / script).chmod(0o755)
    (os_dir / "parameters.list").write_text("probe a test parameter\n")
    kernel = tmp_path_factory.mktemp("kernel") / "vmlinuz"
    image = subprocess.run([str(REPO / "roles/node_prepare/files/os/tinylinux/build-image")],
                           capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["mcopy", "-i", f"{image}@@1M", "::vmlinuz", str(kernel)], check=True)
    yield gnt, markers, os_dir, kernel
    destroy_cluster(gnt)


def no_markers(markers: Path) -> None:
    assert sorted(p.name for p in markers.iterdir()) == [], "a value was evaluated as a template"


def recorded_osp(os_dir: Path, name: str) -> dict[str, str]:
    lines = (os_dir / f"osp-{name}.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def domain_cmdline(name: str) -> str:
    import libvirt

    conn = libvirt.open("qemu:///system")
    try:
        xml = ET.fromstring(conn.lookupByName(name).XMLDesc(0))
    finally:
        conn.close()
    return xml.findtext("os/cmdline") or ""


def assert_literal_everywhere(gnt, markers: Path, os_dir: Path, name: str, osp: str,
                              kargs: str) -> None:
    """The values are in the config, the OS script's environment and, once the instance
    runs, the domain XML, literally; no template was evaluated on the way."""
    inst = gnt.instances()[name]
    assert inst["osparams"]["probe"] == osp
    assert inst["hvparams"]["kernel_args"] == kargs
    assert recorded_osp(os_dir, name)["OSP_PROBE"] == osp
    gnt.run("gnt-instance", "startup", name)
    try:
        no_markers(markers)
        assert kargs in domain_cmdline(name)
    finally:
        gnt.run("gnt-instance", "shutdown", "--timeout=0", name)


def test_cli_parameters_arrive_literally(cluster):
    gnt, markers, os_dir, kernel = cluster
    osp = pwn(markers, "osparam")
    kargs = "a=" + pwn(markers, "kernel-args")
    kpath = str(kernel)  # direct kernel boot, so kernel_args reach the domain XML
    gnt.run("gnt-instance", "add", "-o", REC_OS, "-t", "file", "--disk", "0:size=8M",
            "-O", f"probe={osp}", "-H", f"kvm:kernel_path={kpath},kernel_args={kargs}",
            "--no-start", INST)
    no_markers(markers)
    assert_literal_everywhere(gnt, markers, os_dir, INST, osp, kargs)


def test_modify_and_reinstall_keep_values_literal(cluster):
    gnt, markers, os_dir, _kernel = cluster
    osp = pwn(markers, "modified-osparam")
    gnt.run("gnt-instance", "modify", "-O", f"probe={osp}", INST)
    gnt.run("gnt-instance", "reinstall", "-f", INST)
    no_markers(markers)
    assert gnt.instances()[INST]["osparams"]["probe"] == osp
    assert recorded_osp(os_dir, INST)["OSP_PROBE"] == osp


def test_nic_link_and_mac_prefix_never_evaluated(cluster):
    gnt, markers, _os_dir, _kernel = cluster
    before = gnt.config_file.read_bytes()
    link = pwn(markers, "nic-link")
    proc = gnt.run("gnt-instance", "add", "-o", REC_OS, "-t", "diskless", "--no-start",
                   "--net", f"0:link={link}", "vm3.tmpl.example", check=False)
    if proc.returncode == 0:  # accepted: then kept literally
        nics = gnt.instances()["vm3.tmpl.example"]["nics"]
        assert nics[0]["nicparams"]["link"] == link
        gnt.run("gnt-instance", "remove", "-f", "vm3.tmpl.example")
    else:  # refused: with the value named, config unchanged
        assert gnt.config_file.read_bytes() == before
    no_markers(markers)
    prefix = pwn(markers, "mac-prefix")
    proc = gnt.run("gnt-cluster", "modify", f"--mac-prefix={prefix}", check=False)
    if proc.returncode == 0:
        assert gnt.config()["cluster"]["mac_prefix"] == prefix
        gnt.run("gnt-instance", "add", "-o", REC_OS, "-t", "diskless", "--no-start",
                "vm4.tmpl.example", check=False)
        gnt.run("gnt-instance", "remove", "-f", "vm4.tmpl.example", check=False)
        gnt.run("gnt-cluster", "modify", "--mac-prefix=aa:00:00")
    no_markers(markers)


def test_import_of_a_crafted_export(cluster):
    gnt, markers, os_dir, _kernel = cluster
    node = gnt.run("gnt-node", "list", "--no-headers", "-o", "name").stdout.split()[0]
    gnt.run("gnt-backup", "export", "-n", node, INST)
    ini_path = gnt.root / "srv/gnt/export" / INST / "config.ini"
    ini = configparser.RawConfigParser()
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    ini.read(ini_path)
    osp = pwn(markers, "export-osparam")
    kargs = "b=" + pwn(markers, "export-kernel-args")
    ini.set("os", "probe", osp)
    ini.set("hypervisor", "kernel_args", kargs)
    with open(ini_path, "w") as handle:
        ini.write(handle)
    gnt.run("gnt-backup", "import", "-n", node, "--src-node", node, "--src-dir", INST,
            "--net", "0:mac=generate", "--no-start", IMPORTED)
    no_markers(markers)
    assert_literal_everywhere(gnt, markers, os_dir, IMPORTED, osp, kargs)
    gnt.run("gnt-instance", "remove", "-f", IMPORTED)

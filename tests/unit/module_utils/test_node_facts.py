"""node_facts and the pure helpers of libvirt_domain (no libvirt needed)."""

from __future__ import annotations

import os
import subprocess
import sys

from ansible_collections.gnt.cluster.plugins.module_utils import node_facts
from ansible_collections.gnt.cluster.plugins.module_utils.libvirt_domain import (
    console_info,
    node_default_accel,
)


def test_memory_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       24683520 kB\nMemFree:         1000000 kB\n"
                       "MemAvailable:   20480000 kB\nBuffers:          1024 kB\n")
    assert node_facts.memory_mib(str(meminfo)) == (24105, 20000)
    meminfo.write_text("MemTotal: 2048000 kB\nMemFree: 102400 kB\nBuffers: 102400 kB\n"
                       "Cached: 204800 kB\n")
    assert node_facts.memory_mib(str(meminfo)) == (2000, 400)


def test_real_meminfo_and_cpus():
    total, free = node_facts.memory_mib()
    assert total > 0 and 0 <= free <= total
    assert node_facts.cpu_count() >= 1


def test_storage_usage(tmp_path):
    usage = node_facts.storage_usage([str(tmp_path), str(tmp_path / "missing")])
    st = os.statvfs(tmp_path)
    assert usage[str(tmp_path)] == {
        "exists": True,
        "total_mib": st.f_blocks * st.f_frsize // 2**20,
        "free_mib": st.f_bavail * st.f_frsize // 2**20,
    }
    assert usage[str(tmp_path / "missing")]["exists"] is False


def test_bridges(tmp_path):
    for name, is_bridge in (("gnt-br0", True), ("eth0", False), ("br1", True)):
        (tmp_path / name).mkdir()
        if is_bridge:
            (tmp_path / name / "bridge").mkdir()
    assert node_facts.bridges(str(tmp_path)) == ["br1", "gnt-br0"]
    assert node_facts.bridges(str(tmp_path / "none")) == []


def test_node_default_accel(tmp_path):
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    marker = tmp_path / "kvm_pvm"
    assert node_default_accel(str(kvm), str(marker)) == "kvm"
    marker.mkdir()
    assert node_default_accel(str(kvm), str(marker)) == "tcg"  # kvm_pvm: no stock kernels
    assert node_default_accel(str(tmp_path / "nokvm"), str(tmp_path / "x")) == "tcg"


def test_console_info():
    xml = ("<domain><devices><serial type='pty'><source path='/dev/pts/3'/>"
           "<log file='/var/log/c.log' append='on'/></serial></devices></domain>")
    assert console_info(xml) == {"pty": "/dev/pts/3", "log": "/var/log/c.log"}
    assert console_info("<domain><devices/></domain>") == {"pty": None, "log": None}
    assert console_info("garbage") == {"pty": None, "log": None}


def test_helpers_import_without_ansible_or_libvirt(tmp_path):
    """The coordinator imports these in plain Python: no ansible, libvirt only when used."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'libvirt' or name == 'ansible' or name.startswith('ansible.'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from ansible_collections.gnt.cluster.plugins.module_utils import (\n"
        "    libvirt_domain, node_facts, domain_xml, file_storage, os_interface)\n"
        "assert 'libvirt' not in sys.modules\n"
        "print(libvirt_domain.node_default_accel())\n"
    )
    root = tmp_path / "ac"
    (root / "ansible_collections" / "gnt").mkdir(parents=True)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    (root / "ansible_collections" / "gnt" / "cluster").symlink_to(repo)
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(root)),
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("kvm", "tcg")


def test_module_process_tells_a_warm_server_child_from_a_fresh_interpreter(tmp_path):
    def parent(pid, *args):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(args) + b"\0")

    parent(10, b"/usr/bin/python3", b"-I", b"/var/lib/gnt/modexec/modexec.py", b"--serve",
           b"/run/gnt-modexec/abc", b"/var/lib/gnt/modexec/ansible-2.19.4.zip")
    parent(11, b"/usr/bin/python3", b"/var/lib/gnt/modexec/modexec.py")   # its client
    parent(12, b"/bin/sh", b"-c", b"/usr/bin/python3 && sleep 0")
    parent(13, b"/usr/bin/python3", b"/tmp/not-modexec.py.txt", b"--serve")
    found = {pid: node_facts.module_process(str(tmp_path), pid) for pid in (10, 11, 12, 13, 14)}
    assert found == {10: "warm", 11: "fresh", 12: "fresh", 13: "fresh", 14: "fresh"}
    # this test's own parent is no warm server
    assert node_facts.module_process() == "fresh"

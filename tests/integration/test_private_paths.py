"""No predictable path in a world-writable directory is trusted (issue 10, safety).

An unprivileged user pre-creates the paths older versions used in /tmp (the collection import
dir put first on root's sys.path, Ansible's remote temp dir) with a payload. A real cluster then
runs commands that import the collection's module_utils (add, list, live node fields, OS
diagnose) and Ansible plays: nothing of the payload may run and nothing may be written there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

from gnt.core.collection import ensure_importable

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534
PAYLOAD = "open({marker!r}, 'a').write('payload ran as %d\\n' % __import__('os').getuid())\n"


def _old_paths() -> list[Path]:
    digest = hashlib.sha256(str(REPO).encode()).hexdigest()[:16]
    tmp = Path(tempfile.gettempdir())
    return [tmp / f"gnt-collections-{os.getuid()}-{digest}",
            tmp / f"gnt-test-collections-{os.getuid()}-{digest}"]


def _as_nobody(script: str) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot act as an unprivileged user")
    subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                    "--", "sh", "-ec", script], check=True, cwd="/")


@pytest.fixture
def planted(tmp_path):
    marker = tmp_path / "payload-ran"
    payload = PAYLOAD.format(marker=str(marker))
    dirs = _old_paths()
    remote_tmp = Path(tempfile.gettempdir()) / ".gnt-ansible"
    for path in [*dirs, remote_tmp]:  # leftovers of older versions (ours) make way
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
    script = []
    for base in dirs:
        pkg = base / "ansible_collections"
        script.append(f"mkdir -p '{pkg}/gnt/cluster/plugins/module_utils'")
        for init in (pkg / "__init__.py", pkg / "gnt" / "__init__.py",
                     pkg / "gnt/cluster/plugins/module_utils/units.py",
                     pkg / "gnt/cluster/plugins/module_utils/os_interface.py",
                     pkg / "gnt/cluster/plugins/module_utils/libvirt_domain.py"):
            script.append(f"cat > '{init}' <<'EOF'\n{payload}EOF")
    script.append(f"mkdir -m 0777 '{remote_tmp}' && echo planted > '{remote_tmp}/planted'")
    _as_nobody("\n".join(script))
    yield marker, remote_tmp
    for path in [*dirs, remote_tmp]:
        shutil.rmtree(path, ignore_errors=True)


def test_planted_paths_are_never_used(planted, tmp_path_factory):
    marker, remote_tmp = planted
    gnt = make_cluster(tmp_path_factory.mktemp("privpaths"), "cluster.priv.example")
    try:
        gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
                "vm1.priv.example")
        gnt.run("gnt-instance", "list", "-o", "name,status,oper_ram")
        gnt.run("gnt-node", "list")
        gnt.run("gnt-os", "diagnose")
        # the blank OS boots nothing that would answer an ACPI shutdown
        gnt.run("gnt-instance", "remove", "-f", "--shutdown-timeout=0", "vm1.priv.example")
        # a coordinator process: the collection resolves to the checkout, sys.path untouched
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sys; before = list(sys.path); import gnt.core.units, gnt.nodes.checks;"
             " m = sys.modules['ansible_collections.gnt.cluster.plugins.module_utils.units'];"
             " print(m.__file__); print(sys.path == before)"],
            env=gnt.env, cwd="/", capture_output=True, text=True, check=True)
        assert probe.stdout.split() == [str(REPO / "plugins/module_utils/units.py"), "True"]
    finally:
        destroy_cluster(gnt)
    assert not marker.exists(), marker.read_text()
    assert sorted(p.name for p in remote_tmp.iterdir()) == ["planted"]
    ansible_dir = gnt.root / "var/lib/gnt/ansible"
    if ansible_dir.exists():
        assert ansible_dir.stat().st_mode & 0o077 == 0


def test_in_process_import_puts_nothing_on_sys_path():
    before = list(sys.path)
    ensure_importable()
    package = sys.modules["ansible_collections.gnt.cluster"]
    assert [Path(path) for path in package.__path__] == [REPO]
    assert sys.path == before

"""The warm module interpreter on the other nodes (gnt.nodes.modexec_bundle, issue 11): Ansible's
module_utils are warmed only from a source of the payload's own Ansible version (a zip next to
modexec.py, or the installed Ansible of that version), and the tarball node_prepare unpacks
gives the node's Python a server with them warmed.

Real processes: the client is started as Ansible starts it, payload on stdin.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from unittest.mock import ANY

import pytest

from gnt.core import settings
from gnt.nodes import modexec, modexec_bundle

INSTALLED = modexec._installed_ansible_version()
PROBE = """
import json, os, sys, tempfile, zipfile
# as in Ansible's payloads: "_ansible_version": "%s"
basic = sys.modules.get("ansible.module_utils.basic")
# as the wrapper of one of Ansible's own modules does: its zip first on sys.path
payload = os.path.join(tempfile.mkdtemp(), "payload.zip")
with zipfile.ZipFile(payload, "w") as archive:
    archive.writestr("ansible/__init__.py", "")
    archive.writestr("ansible/modules/__init__.py", "")
    archive.writestr("ansible/modules/probe.py", "WHERE = __file__")
sys.path.insert(0, payload)
try:
    import ansible.modules.probe
    found = ansible.modules.probe.WHERE.startswith(payload)
except ImportError:  # an installed Ansible's own ansible.modules (the master's) has no probe
    found = False
print(json.dumps({"basic": getattr(basic, "__file__", None), "ppid": os.getppid(),
                  "module": found}))
"""


def _probe(argv: list[str], version: str, cwd: Path) -> dict:
    done = subprocess.run(argv, input=PROBE % version, capture_output=True, text=True, cwd=cwd,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_payloads_ansible_version_is_read_from_its_arguments():
    real = b'params=\'{"ANSIBLE_MODULE_ARGS": {"_ansible_verbosity": 0, "_ansible_version": "2.19.14", "x": 1}}\''
    assert modexec.payload_version(real) == "2.19.14"
    assert modexec.payload_version(b'"_ansible_version" : "9.0.0b1"') == "9.0.0b1"
    assert modexec.payload_version(b"print('no version here')") is None
    assert modexec.payload_version(b'"_ansible_version": "1.0; rm -rf /"') is None
    assert modexec.payload_version(b'"_ansible_version": 3') is None


def test_module_utils_are_warmed_only_from_a_source_of_the_payloads_version(servers, tmp_path):
    script = tmp_path / "modexec.py"
    for path in modexec_bundle.MODEXEC_FILES:  # modexec.py and what its server imports
        shutil.copy(path, tmp_path / path.name)
    utils = Path(modexec_bundle._ansible()[1])
    zip_path = tmp_path / "ansible-9.9.9.zip"
    zip_path.write_bytes(modexec_bundle._utils_zip("9.9.9", utils, tuple(modexec_bundle._sources(utils))))
    argv = [sys.executable, "-I", str(script)]
    from_zip = _probe(argv, "9.9.9", tmp_path)
    assert from_zip["basic"] == f"{zip_path}/ansible/module_utils/basic.py"
    assert from_zip["module"]  # one of Ansible's own modules is found in its payload's zip
    assert _probe(argv, "0.0.1", tmp_path) == {**from_zip, "basic": None,   # no source of it
                                               "ppid": ANY}
    assert _probe(argv, "", tmp_path)["basic"] is None         # a payload that does not say
    installed = _probe(argv, INSTALLED, tmp_path)               # the master: its own Ansible
    assert installed["basic"] == str(utils / "basic.py")
    assert len({from_zip["ppid"], installed["ppid"]}) == 2      # one server per source


def test_the_node_bundle_gives_the_nodes_python_a_warm_interpreter(servers, tmp_path, monkeypatch):
    if not os.access(modexec_bundle.NODE_PYTHON, os.X_OK):
        pytest.skip(f"{modexec_bundle.NODE_PYTHON} (the nodes' Python) is not on this machine")
    monkeypatch.setenv("GNT_ROOT", str(tmp_path / "root"))
    paths = settings.paths()
    tarball = modexec_bundle.bundle(paths)
    assert modexec_bundle.bundle(paths) == tarball                 # built once per content
    assert tarball.parent.stat().st_mode & 0o077 == 0
    with tarfile.open(tarball) as archive:
        members = {m.name: (m.mode, m.uid) for m in archive.getmembers()}
        assert members == {"modexec.py": (0o644, 0), "modexec_cache.py": (0o644, 0),
                           "modexec_server.py": (0o644, 0), "modexec_relay.py": (0o644, 0),
                           "python": (0o755, 0), f"ansible-{INSTALLED}.zip": (0o644, 0)}
        node_dir = modexec_bundle.node_dir(paths)
        node_dir.mkdir(parents=True)
        archive.extractall(node_dir, filter="data")
    launcher = modexec_bundle.node_interpreter(paths)
    line = shlex.split(Path(launcher).read_text().splitlines()[-1])
    assert line[:4] == ["exec", modexec_bundle.NODE_PYTHON, "-I", "-c"]
    assert f"sys.path.append({str(node_dir)!r})" in line[4] and "modexec.client()" in line[4]
    warm = _probe([launcher], INSTALLED, tmp_path)
    assert warm["basic"] == f"{node_dir}/ansible-{INSTALLED}.zip/ansible/module_utils/basic.py"
    assert warm["module"]   # one of Ansible's own modules is found in its payload's zip
    assert servers.pids() == [warm["ppid"]]
    # the bundle's server found its code cache beside it: Ansible's module_utils are in it
    assert len(list((servers.path / "code").iterdir())) > 10
    assert os.readlink(f"/proc/{warm['ppid']}/exe") == os.path.realpath(modexec_bundle.NODE_PYTHON)

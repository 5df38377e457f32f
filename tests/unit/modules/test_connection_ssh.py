"""The connection plugin gnt.cluster.ssh (issue 11): ansible.builtin.ssh with every option of it
(the generated doc fragment), whose module tasks go to the node's warm module interpreter
through a forward on the control master. The forward's local end and its clean-up are tested
here; the relay over real SSH in tests/integration/test_multinode.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from ansible_collections.gnt.cluster.plugins.doc_fragments.ssh_connection import ModuleDocFragment
from gnt.nodes.modexec import connect_forward, forward_path

REPO = Path(__file__).resolve().parents[3]


def test_the_fragment_declares_every_option_of_the_installed_ssh_plugin_as_it_does():
    """Regenerate with scripts/ssh_connection_doc.py when this fails (ansible-core changed)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import ssh_connection_doc
    finally:
        del sys.path[0]
    version, installed = ssh_connection_doc.options_of(sys.executable)
    declared = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    assert set(installed) <= set(declared), f"ansible-core {version}"
    for name, spec in installed.items():
        assert declared[name] == spec, name


def test_the_forwards_local_end_is_a_short_name_in_the_control_directory():
    link = "/var/lib/gnt/modexec/relay-v1-2.19.14.sock"
    one = forward_path("/var/lib/gnt/ansible/ssh-cm", "root", "198.18.0.12", 22, link)
    assert os.path.dirname(one) == "/var/lib/gnt/ansible/ssh-cm"
    assert len(os.path.basename(one)) == len("relay-") + 20
    assert one == forward_path("/var/lib/gnt/ansible/ssh-cm", "root", "198.18.0.12", 22, link)
    others = {forward_path("/d", "root", "198.18.0.13", 22, "/r"),
              forward_path("/d", "root", "198.18.0.12", 2222, "/r"),
              forward_path("/d", "root", "198.18.0.12", 22, "/s"),
              forward_path("/d", "admin", "198.18.0.12", 22, "/r")}
    assert len(others) == 4


def test_no_forward_or_a_forward_left_by_a_gone_master_means_no_relay(tmp_path):
    missing = tmp_path / "relay-missing"
    assert connect_forward(str(missing)) is None
    stale = tmp_path / "relay-stale"     # what a control master that exited leaves behind
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(stale))
    listener.close()
    assert stale.exists()
    assert connect_forward(str(stale)) is None
    assert not stale.exists()            # removed: the next module task sets the forward up


def test_a_live_forward_is_connected(tmp_path):
    path = tmp_path / "relay-live"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    try:
        sock = connect_forward(str(path))
        assert sock is not None
        sock.close()
    finally:
        listener.close()


def test_ansible_doc_shows_the_plugin_with_the_ssh_options():
    done = subprocess.run([str(Path(sys.executable).with_name("ansible-doc")), "-t", "connection",
                           "--json", "gnt.cluster.ssh"], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)["gnt.cluster.ssh"]["doc"]
    assert {"relay_dir", "modexec_path", "module_interpreter", "host", "port",
            "control_path_dir", "ssh_args", "pipelining"} <= set(doc["options"])

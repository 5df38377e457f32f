"""Name and IP checks through the real commands and master daemon (issue 10, section 3).

The cluster's hosts file (GNT_HOSTS_FILE, also in the daemon's environment) lists a short name
with its full name, and a name at a loopback address where connects are refused (a host that
answers, so its IP is in use). Refusals exit 1 naming the value and leave the config as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration

HOSTS = """127.0.0.1 localhost
198.18.0.131 web1.names.example web1
127.0.0.77 busy.names.example busy
"""
ADD = ["gnt-instance", "add", "-t", "diskless", "--no-install", "--no-start"]


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    root = tmp_path_factory.mktemp("names")
    hosts = Path(root) / "hosts"
    hosts.write_text(HOSTS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GNT_HOSTS_FILE", str(hosts))  # make_cluster's env, the daemon's too
        gnt = make_cluster(Path(root) / "root", "cluster.names.example")
    gnt.name_checks = True   # these tests are about the checks: no --no-name-check added
    yield gnt
    destroy_cluster(gnt)


def _refused(gnt, argv: list[str], *needles: str) -> None:
    before = gnt.config_file.read_bytes()
    proc = gnt.run(*argv, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert gnt.config_file.read_bytes() == before


def test_unresolvable_name_refused_unless_no_name_check(gnt):
    _refused(gnt, [*ADD, "ghost.names.example"], "ghost.names.example", "could not be resolved")
    gnt.run(*ADD, "--no-name-check", "ghost.names.example")
    assert "ghost.names.example" in gnt.instances()


def test_ip_in_use_refused_unless_no_ip_check(gnt):
    _refused(gnt, [*ADD, "busy"], "127.0.0.77", "busy.names.example", "in use")
    gnt.run(*ADD, "--no-ip-check", "busy")
    assert "busy.names.example" in gnt.instances()


def test_short_name_becomes_the_full_name_and_rename_resolves(gnt):
    gnt.run(*ADD, "--no-ip-check", "web1")
    assert "web1.names.example" in gnt.instances()
    _refused(gnt, ["gnt-instance", "rename", "web1.names.example", "nowhere"], "nowhere")
    gnt.run("gnt-instance", "rename", "ghost.names.example", "--no-name-check", "ghost2")
    assert "ghost2" in gnt.instances()

"""gnt-instance remove honours --shutdown-timeout (issue 10): a running instance is shut
down through ACPI first (forced off only after the timeout), then removed."""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration
INST = "vm1.rmshut.example"
STEP = "Shut the domain down (forced off after gnt_shutdown_timeout seconds): changed"


@pytest.fixture(scope="module")
def gnt(tmp_path_factory):
    gnt = make_cluster(tmp_path_factory.mktemp("rmshut"), "cluster.rmshut.example")
    yield gnt
    destroy_cluster(gnt)


def test_remove_of_a_running_instance_shuts_it_down_first(gnt):
    gnt.run("gnt-instance", "add", "-o", "tinylinux", "-t", "file", "--disk", "0:size=64M",
            "-B", "memory=128M", INST)
    gnt.wait_console(INST, "gnt-tinylinux: booted")
    out = gnt.run("gnt-instance", "remove", "-f", "--shutdown-timeout=60", INST).stdout
    assert STEP in out, out
    assert INST not in gnt.instances()
    assert not (gnt.root / "srv/gnt/file-storage" / INST).exists()


def test_remove_of_a_stopped_instance_has_nothing_to_shut_down(gnt):
    gnt.run("gnt-instance", "add", "-o", "blank", "-t", "file", "--disk", "0:size=8M",
            "--no-start", INST)
    out = gnt.run("gnt-instance", "remove", "-f", "--shutdown-timeout=60", INST).stdout
    assert STEP not in out
    assert INST not in gnt.instances()

"""gnt-backup list and remove on a real one-node cluster (the exports are directories made by
hand here; export/import themselves are tested with their implementation)."""

from __future__ import annotations

import pytest
from gnt_clusterenv import destroy_cluster, make_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def gnt(tmp_path):
    gnt = make_cluster(tmp_path, "cluster.backup.example")
    yield gnt
    destroy_cluster(gnt)


def test_list_shows_complete_exports_and_remove_deletes_them(gnt):
    export_dir = gnt.root / "srv/gnt/export"
    done = export_dir / "old.backup.example"
    done.mkdir(parents=True)
    (done / "config.ini").write_text("[export]\nversion = 0\n")
    (done / "disk0.dump").write_bytes(b"x" * 4096)
    (export_dir / ".new.backup.example.partial").mkdir()      # being written
    (export_dir / "broken.backup.example").mkdir()            # no config.ini: not an export

    out = gnt.run("gnt-backup", "list").stdout
    node = out.splitlines()[-1].split()[0]
    assert [line.split() for line in out.splitlines()] == [["Node", "Export"],
                                                           [node, "old.backup.example"]]
    assert gnt.run("gnt-backup", "list", "--node", node).stdout == out

    before = gnt.config_file.read_bytes()
    gnt.run("gnt-backup", "remove", "old.backup.example")
    assert not done.exists()
    assert (export_dir / ".new.backup.example.partial").exists()
    assert gnt.config_file.read_bytes() == before          # exports are not in the config
    assert gnt.run("gnt-backup", "list").stdout.split() == ["Node", "Export"]

    again = gnt.run("gnt-backup", "remove", "old.backup.example", check=False)
    assert again.returncode == 1
    assert "No export found for instance old.backup.example" in again.stderr

    short = gnt.run("gnt-backup", "remove", "gone", check=False)
    assert short.returncode == 1 and "give its full name" in short.stderr

    unknown = gnt.run("gnt-backup", "list", "--node", "nosuchnode", check=False)
    assert unknown.returncode == 1 and "nosuchnode" in unknown.stderr

"""The volume lists of the DRBD roles, built by the coordinator (gnt.nodes.nodevars
drbd_volumes / drbd_replace_volumes) and passed as data: ``gnt_drbd_volumes`` of
``instance_drbd`` (one ``lvm_volume`` call creates or removes all of a node's volumes) and
``gnt_drbd_replace_volumes`` of ``instance_drbd_replace``.

Checked against the config's disks (not against drbd_vars): every disk's data volume, then its
meta-data volume, in disk order, a new meta-data volume wiped; a play for some disks only
(modify --disk remove, recreate-disks, replace-disks with disks) lists their volumes only.
Plays come from the recording executor (vars checked against the roles' specs); the roles run
for real in tests/integration/test_storage_lab_drbd.py and test_storage_lab_replace.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from multinode import MASTER, drbd_cluster

from gnt.core import settings
from gnt.core.jobstate import SUCCESS
from gnt.nodes.nodevars import drbd_replace_volumes, drbd_volumes

N1, N2, N3 = MASTER, "node2.example.com", "node3.example.com"
NAME = "inst1.example.com"


@pytest.fixture
def drbd(cluster, monkeypatch):
    state = drbd_cluster(cluster, monkeypatch, N2, N3)
    job = cluster.run("OP_INSTANCE_CREATE", instance_name=NAME, disk_template="drbd",
                      disks=[{"size": "1G"}, {"size": "512M"}], pnode=N1, snode=N2,
                      name_check=False, ip_check=False, no_install=True, start=False,
                      os_type="blank")
    assert job.status == SUCCESS, job.ops[0].log
    return state


def _ok(job: Any) -> None:
    assert job.status == SUCCESS, (job.ops[0].result, job.ops[0].log)


def _disks(cluster) -> list[dict[str, Any]]:
    store = cluster.master.config
    return store.instance_disks(store.find("instances", NAME))


def _expected_create(disks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """From the config: each disk's data volume then its meta-data volume (stripes 1, the
    cluster default)."""
    found = []
    for disk in disks:
        data, meta = disk["children"]
        found += [{"vg": data["logical_id"][0], "name": data["logical_id"][1],
                   "size_mib": data["size"], "stripes": 1, "wipe": False},
                  {"vg": meta["logical_id"][0], "name": meta["logical_id"][1],
                   "size_mib": meta["size"], "stripes": 1, "wipe": True}]
    return found


def _drbd_plays(cluster, since: int = 0) -> list[Any]:
    """Every instance_drbd play run since call ``since``, each checked: its volume lists
    are those of its own ends (whatever subset of the disks the play is for)."""
    plays = [play for call in cluster.executor.calls[since:] for play in call
             if play.role == "instance_drbd"]
    for play in plays:
        for host, hv in play.hosts.items():
            assert hv["gnt_drbd_volumes"] == drbd_volumes(hv["gnt_drbd"]), host
    return plays


def test_create_lists_every_disks_data_then_meta_volume(cluster, drbd):
    [create] = _drbd_plays(cluster)
    expected = _expected_create(_disks(cluster))
    assert [vol["size_mib"] for vol in expected] == [1024, 128, 512, 128]
    for host in (N1, N2):
        volumes = create.hosts[host]["gnt_drbd_volumes"]
        assert create.hosts[host]["gnt_drbd_create"] is True
        assert volumes["create"] == expected
        assert volumes["remove"] == [{"vg": vol["vg"], "name": vol["name"], "state": "absent"}
                                     for vol in expected]
        assert volumes["remove_meta"] == [{"vg": vol["vg"], "name": vol["name"],
                                           "state": "absent"} for vol in expected[1::2]]


def test_stripes_come_from_the_disk_parameters(cluster, drbd):
    _ok(cluster.run("OP_CLUSTER_SET_PARAMS",
                    diskparams={"drbd": {"data-stripes": 2, "meta-stripes": 3}}))
    since = len(cluster.executor.calls)
    _ok(cluster.run("OP_INSTANCE_RECREATE_DISKS", instance_name=NAME, disks=[0]))
    [create] = [play for play in _drbd_plays(cluster, since)
                if play.hosts[N1].get("gnt_drbd_create")]
    assert [(vol["stripes"], vol["wipe"]) for vol in
            create.hosts[N1]["gnt_drbd_volumes"]["create"]] == [(2, False), (3, True)]


def test_a_play_for_some_disks_lists_their_volumes_only(cluster, drbd):
    disks = _disks(cluster)
    since = len(cluster.executor.calls)
    _ok(cluster.run("OP_INSTANCE_RECREATE_DISKS", instance_name=NAME, disks=[1]))
    [create] = [play for play in _drbd_plays(cluster, since)
                if play.hosts[N1].get("gnt_drbd_create")]
    for host in (N1, N2):
        assert create.hosts[host]["gnt_drbd_volumes"]["create"] == _expected_create(disks[1:])

    since = len(cluster.executor.calls)
    _ok(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, disks=[["remove", 0, {}]]))
    [remove] = _drbd_plays(cluster, since)
    gone = [{"vg": vol["vg"], "name": vol["name"], "state": "absent"}
            for vol in _expected_create(disks[:1])]
    for host in (N1, N2):
        assert remove.hosts[host]["gnt_drbd_state"] == "absent"
        assert remove.hosts[host]["gnt_drbd_volumes"]["remove"] == gone   # disk 1's stay


def test_conversion_to_plain_removes_the_primarys_meta_data_volumes_only(cluster, drbd):
    _ok(cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, disk_template="plain"))
    [removal] = [play for play in _drbd_plays(cluster)
                 if N1 in play.hosts and play.hosts[N1]["gnt_drbd_state"] == "absent"]
    hv = removal.hosts[N1]
    assert hv["gnt_drbd_meta_only"] is True
    assert [vol["name"] for vol in hv["gnt_drbd_volumes"]["remove_meta"]] == \
        [name for name in (vol["name"] for vol in hv["gnt_drbd_volumes"]["remove"])
         if name.endswith("_meta")]


def test_replace_volumes_new_names_renames_aside_before_into_place(cluster, drbd):
    disks = _disks(cluster)
    since = len(cluster.executor.calls)
    _ok(cluster.run("OP_INSTANCE_REPLACE_DISKS", instance_name=NAME,
                    mode="replace_on_secondary", disks=[1]))
    swap, cleanup = [play.hosts[N2] for call in cluster.executor.calls[since:]
                     for play in call if play.role == "instance_drbd_replace"]
    assert (swap["gnt_drbd_replace_step"], cleanup["gnt_drbd_replace_step"]) == \
        ("swap", "cleanup")
    volumes = swap["gnt_drbd_replace_volumes"]
    assert cleanup["gnt_drbd_replace_volumes"] == volumes         # one stamp for both steps
    current = _expected_create(disks[1:])
    assert volumes["create"] == [{**vol, "name": vol["name"] + "_new"} for vol in current]
    aside, into = volumes["swap"][:2], volumes["swap"][2:]
    stamp = aside[0]["name"].rsplit("_replaced-", 1)[1]
    assert stamp.isdigit()
    assert aside == [{"vg": vol["vg"], "rename_from": vol["name"],
                      "name": f"{vol['name']}_replaced-{stamp}"} for vol in current]
    assert into == [{"vg": vol["vg"], "rename_from": vol["name"] + "_new",
                     "name": vol["name"]} for vol in current]
    assert volumes["remove"] == [{"vg": vol["vg"], "name": vol["name"], "state": "absent"}
                                 for vol in aside]


@pytest.mark.parametrize("stamp", ["", "17 33", "1733{{ x }}", "../1"])
def test_a_bad_stamp_is_refused(stamp):
    end = {"data_vg": "xenvg", "data_lv": "u.disk0_data", "data_size_mib": 64,
           "data_stripes": 1, "meta_vg": "xenvg", "meta_lv": "u.disk0_meta",
           "meta_size_mib": 128, "meta_stripes": 1}
    assert drbd_replace_volumes([end], "1733300000")["remove"][0]["name"] == \
        "u.disk0_data_replaced-1733300000"
    with pytest.raises(ValueError, match="replace-disks stamp"):
        drbd_replace_volumes([end], stamp)


@pytest.mark.parametrize("role", ["instance_drbd", "instance_drbd_replace"])
def test_the_roles_build_no_lists_in_jinja(role):
    """The lists come whole from the coordinator: no Jinja statements in the tasks."""
    tasks = (settings.collection_root() / "roles" / role / "tasks" / "main.yml").read_text()
    assert "{%" not in tasks and "namespace(" not in tasks
    assert "gnt_drbd_volumes" in tasks or "gnt_drbd_replace_volumes" in tasks

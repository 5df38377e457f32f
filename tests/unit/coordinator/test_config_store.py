import json

import pytest

from gnt.config.schema import validate
from gnt.config.store import ConfigStore, expand_name, previous_path
from gnt.core.errors import ConfigError, OpPrereqError


def test_init_writes_valid_config_with_serials(cluster):
    store = ConfigStore.load(cluster.master.config.path)
    data = store.data
    assert data["cluster"]["cluster_name"] == "cluster.example.com"
    master = store.master_node()
    assert master["name"] == "node1.example.com"
    assert master["primary_ip"] == "198.18.0.11"
    for obj in [data["cluster"], master]:
        assert obj["serial_no"] >= 1 and obj["ctime"] <= obj["mtime"]


def test_every_change_bumps_file_and_object_serial_and_keeps_previous(cluster):
    store = cluster.master.config
    before_file = store.serial_no
    before_cluster = store.cluster()["serial_no"]
    old_bytes = store.path.read_bytes()
    store.modify_cluster(lambda c: c["tags"].append("a"))
    assert store.serial_no == before_file + 1
    assert store.cluster()["serial_no"] == before_cluster + 1
    assert previous_path(store.path).read_bytes() == old_bytes
    assert json.loads(store.path.read_bytes())["cluster"]["tags"] == ["a"]


def test_failed_change_leaves_memory_and_file_untouched(cluster):
    store = cluster.master.config
    before = store.path.read_bytes()

    def broken(cluster_obj):
        cluster_obj["tags"].append("x")
        raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        store.modify_cluster(broken)
    assert store.cluster()["tags"] == []
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d.pop("cluster"), "'/cluster' is missing"),
    (lambda d: d["cluster"].__setitem__("candidate_pool_size", "ten"),
     "cluster/candidate_pool_size"),
    (lambda d: d["nodes"][next(iter(d["nodes"]))].__setitem__("offline", "no"), "/offline"),
    (lambda d: d["cluster"].__setitem__("master_node", "nope"), "cluster/master_node"),
])
def test_load_names_the_bad_key(cluster, mutate, key):
    data = json.loads(cluster.master.config.path.read_bytes())
    mutate(data)
    # Elsewhere: loading clears stale temp files beside the file, and the running master
    # daemon of the fixture is writing its own next to config.data.
    bad = cluster.master.config.path.parent.parent / "elsewhere" / "bad.data"
    bad.parent.mkdir()
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as err:
        ConfigStore.load(bad)
    assert key in str(err.value)


def test_load_rejects_garbage(tmp_path):
    path = tmp_path / "config.data"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ConfigStore.load(path)
    with pytest.raises(ConfigError, match="not found"):
        ConfigStore.load(tmp_path / "missing")


def test_short_name_expansion():
    names = ["inst1.example.com", "inst2.example.com", "inst1.other.org"]
    assert expand_name(names, "inst2") == "inst2.example.com"
    assert expand_name(names, "inst1.example.com") == "inst1.example.com"
    assert expand_name(names, "inst3") is None
    with pytest.raises(OpPrereqError, match="ambiguous"):
        expand_name(names, "inst1")


def _with_network(data, **fields):
    net = {"uuid": "net-u", "name": "net1", "network": "198.18.5.0/24", "tags": [],
           "serial_no": 1, "ctime": 1.0, "mtime": 1.0, **fields}
    data["networks"]["net-u"] = net
    return data


@pytest.mark.parametrize("mutate, key", [
    (lambda d: _with_network(d, gateway=5), "networks/net-u/gateway"),
    (lambda d: _with_network(d, reservations=["0"]), "networks/net-u/reservations"),
    (lambda d: _with_network(d)["networks"]["net-u"].pop("network"),
     "networks/net-u/network' is missing"),
    (lambda d: next(iter(d["nodegroups"].values())).__setitem__("networks", {"n": "bridged"}),
     "/networks' must be an object of objects"),
])
def test_network_fields_are_checked(cluster, mutate, key):
    data = json.loads(cluster.master.config.path.read_bytes())
    mutate(data)
    with pytest.raises(ConfigError) as err:
        validate(data)
    assert key in str(err.value)


def test_networks_load_with_and_without_their_optional_fields(cluster):
    data = json.loads(cluster.master.config.path.read_bytes())
    validate(data)  # no networks, groups without "networks": an older config
    _with_network(data)
    validate(data)
    _with_network(data, gateway=None, network6="2001:db8::/64", gateway6=None,
                  mac_prefix="aa:00:00", reservations="0" * 256, ext_reservations="1" * 256)
    next(iter(data["nodegroups"].values()))["networks"] = {
        "net-u": {"mode": "bridged", "link": "br0", "vlan": ""}}
    validate(data)

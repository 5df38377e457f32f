"""Network logical units (gnt-network) on a one-node cluster with the recording executor."""

import pytest

from gnt.core.errors import OpPrereqError
from gnt.core.jobstate import ERROR, SUCCESS
from gnt.core.locklevels import (
    ALL,
    LEVEL_INSTANCE,
    LEVEL_NETWORK,
    LEVEL_NODE,
    LEVEL_NODEGROUP,
    name_lock,
)
from gnt.lu.base import LU_REGISTRY, Context
from gnt.opcodes.registry import validate

NODE_IP = "198.18.0.11"


def _ok(job):
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job.ops[0].result


def _error(job):
    assert job.status == ERROR, job.ops[0].log
    return job.ops[0].result["args"][0]


def _refused(cluster, op_id, **params):
    """The message of a refusal: at submission (opcode validation) or by the job."""
    try:
        job = cluster.run(op_id, **params)
    except OpPrereqError as err:
        return str(err)
    return _error(job)


def _log(job):
    return "\n".join(str(entry[3]) for entry in job.ops[0].log)


def _nets(cluster):
    return {n["name"]: n for n in cluster.master.config.all("networks")}


def _group(cluster, name="default"):
    return next(g for g in cluster.master.config.all("nodegroups") if g["name"] == name)


def _add(cluster, name="net1", network="198.18.5.0/28", **kw):
    return _ok(cluster.run("OP_NETWORK_ADD", network_name=name, network=network, **kw))


def _instance(cluster, name, nics):
    """An instance on the node with these NIC dicts, written straight into the config."""
    store = cluster.master.config
    node = store.master_node()
    inst = {"uuid": f"{name}-uuid", "name": name, "primary_node": node["uuid"],
            "os": "blank", "hypervisor": "kvm", "hvparams": {}, "beparams": {},
            "osparams": {}, "admin_state": "down", "disk_template": "diskless", "disks": [],
            "nics": [{"uuid": f"{name}-nic{i}", "mac": f"aa:00:00:00:00:0{i}", "nicparams": {},
                      **nic} for i, nic in enumerate(nics)], "tags": []}
    store.add("instances", inst)
    return inst


def test_add_creates_pool_with_network_broadcast_and_gateway(cluster):
    serial = cluster.master.config.serial_no
    _add(cluster, gateway="198.18.5.1", mac_prefix="AA:11:22", network6="2001:db8::/64",
         gateway6="2001:db8::1", add_reserved_ips=["198.18.5.5"], tags=["b", "a"])
    net = _nets(cluster)["net1"]
    assert net["network"] == "198.18.5.0/28" and net["gateway"] == "198.18.5.1"
    assert net["mac_prefix"] == "aa:11:22"
    assert (net["network6"], net["gateway6"]) == ("2001:db8::/64", "2001:db8::1")
    assert net["ext_reservations"] == "1100010000000001"
    assert net["reservations"] == "0" * 16
    assert net["tags"] == ["a", "b"] and net["serial_no"] == 1
    assert cluster.master.config.serial_no == serial + 1


def test_add_conflicts_check_reserves_node_and_master_ips(cluster):
    master_ip = cluster.master.config.cluster()["master_ip"]
    job = cluster.run("OP_NETWORK_ADD", network_name="lab", network="198.18.0.0/24")
    _ok(job)
    net = _nets(cluster)["lab"]
    reserved = [i for i, bit in enumerate(net["ext_reservations"]) if bit == "1"]
    expected = {0, 255, 11, int(master_ip.rsplit(".", 1)[1])}
    assert set(reserved) == expected
    assert f"Reserved IP address of node 'node1.example.com' ({NODE_IP})" in _log(job)
    # without the check only network and broadcast
    _ok(cluster.run("OP_NETWORK_ADD", network_name="lab2", network="198.18.0.0/24",
                    conflicts_check=False))
    assert _nets(cluster)["lab2"]["ext_reservations"] == "1" + "0" * 254 + "1"


@pytest.mark.parametrize(("params", "words"), [
    ({"network": "198.18.5.0/31"}, ("net1", "too small", "/30")),
    ({"network": "10.0.0.0/8"}, ("too big", "/16")),
    ({"gateway": "198.18.6.1"}, ("198.18.6.1", "not inside")),
    ({"add_reserved_ips": ["198.18.9.9"]}, ("Cannot reserve IP address '198.18.9.9'",)),
    ({"add_reserved_ips": ["198.18.5.0"]}, ("already externally reserved",)),
    ({"mac_prefix": "aa:00"}, ("aa:00",)),
    ({"network": "198.18.5.7/28"}, ("198.18.5.7/28",)),
    ({"gateway6": "2001:db9::1", "network6": "2001:db8::/64"}, ("not inside",)),
])
def test_add_refuses_bad_input_and_changes_nothing(cluster, params, words):
    before = cluster.config_bytes()
    msg = _refused(cluster, "OP_NETWORK_ADD", **{"network_name": "net1",
                                                 "network": "198.18.5.0/28", **params})
    for word in words:
        assert word in msg
    assert cluster.config_bytes() == before


def test_add_duplicate_name(cluster):
    _add(cluster)
    before = cluster.config_bytes()
    msg = _error(cluster.run("OP_NETWORK_ADD", network_name="net1", network="198.18.6.0/24"))
    assert "'net1' already exists" in msg
    assert cluster.config_bytes() == before


def test_dry_run_changes_nothing(cluster):
    before = cluster.config_bytes()
    _ok(cluster.run("OP_NETWORK_ADD", network_name="n", network="198.18.5.0/24", dry_run=True))
    assert cluster.config_bytes() == before and _nets(cluster) == {}


def test_modify_gateway_reservations_ipv6_and_mac_prefix(cluster):
    _add(cluster, gateway="198.18.5.1")
    _ok(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1", gateway="198.18.5.14"))
    net = _nets(cluster)["net1"]
    assert net["gateway"] == "198.18.5.14"
    assert net["ext_reservations"] == "1000000000000011"
    _ok(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1",
                    add_reserved_ips=["198.18.5.3", "198.18.5.4"],
                    remove_reserved_ips=["198.18.5.0"]))
    assert _nets(cluster)["net1"]["ext_reservations"] == "0001100000000011"
    _ok(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1", mac_prefix="AB:CD:EF",
                    network6="2001:db8::/64", gateway6="2001:db8::1"))
    net = _nets(cluster)["net1"]
    assert (net["mac_prefix"], net["network6"], net["gateway6"]) == (
        "ab:cd:ef", "2001:db8::/64", "2001:db8::1")
    _ok(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1", mac_prefix="none",
                    gateway="none", gateway6="none", network6="none"))
    net = _nets(cluster)["net1"]
    assert net["gateway"] is None and net["mac_prefix"] is None and net["network6"] is None
    assert net["ext_reservations"] == "0001100000000001"


def test_modify_warnings_and_refusals(cluster):
    _add(cluster, gateway="198.18.5.1")
    job = cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1",
                      add_reserved_ips=["198.18.9.9"], remove_reserved_ips=["198.18.5.1",
                                                                            "198.18.5.7"])
    _ok(job)
    log = _log(job)
    assert "Cannot reserve IP address 198.18.9.9" in log
    assert "Cannot unreserve Gateway's IP" in log
    assert "Cannot release IP address 198.18.5.7" in log
    before = cluster.config_bytes()
    assert "at once" in _error(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1",
                                           gateway="198.18.5.2",
                                           add_reserved_ips=["198.18.5.3"]))
    assert "not inside" in _error(cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1",
                                              gateway="198.18.7.1"))
    _instance(cluster, "web", [{"ip": "198.18.5.6", "network": _nets(cluster)["net1"]["uuid"]}])
    store = cluster.master.config
    net = _nets(cluster)["net1"]
    store.modify("networks", net["uuid"],
                 lambda n: n.update(reservations="0" * 6 + "1" + "0" * 9))
    before = cluster.config_bytes()
    assert "'198.18.5.6' is already reserved" in _error(
        cluster.run("OP_NETWORK_SET_PARAMS", network_name="net1", gateway="198.18.5.6"))
    assert cluster.config_bytes() == before


def test_connect_disconnect_and_remove(cluster):
    _add(cluster)
    uuid = _nets(cluster)["net1"]["uuid"]
    _ok(cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                    network_mode="routed", network_link="rt100", network_vlan=""))
    assert _group(cluster)["networks"] == {uuid: {"mode": "routed", "link": "rt100", "vlan": ""}}
    job = cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                      network_mode="bridged", network_link="br0")
    _ok(job)
    assert "already mapped" in _log(job)
    assert _group(cluster)["networks"][uuid]["mode"] == "routed"  # unchanged
    before = cluster.config_bytes()
    msg = _error(cluster.run("OP_NETWORK_REMOVE", network_name="net1"))
    assert "still connected" in msg and "default" in msg
    assert cluster.config_bytes() == before
    _ok(cluster.run("OP_NETWORK_DISCONNECT", group_name="default", network_name="net1"))
    assert _group(cluster)["networks"] == {}
    job = cluster.run("OP_NETWORK_DISCONNECT", group_name="default", network_name="net1")
    _ok(job)
    assert "not mapped" in _log(job)
    _ok(cluster.run("OP_NETWORK_REMOVE", network_name="net1"))
    assert _nets(cluster) == {}


def test_connect_conflicts_check_looks_at_instance_ips(cluster):
    _add(cluster)
    _instance(cluster, "web", [{"ip": "198.18.5.9"}, {"ip": None}])
    before = cluster.config_bytes()
    job = cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                      network_mode="bridged", network_link="br0")
    msg = _error(job)
    assert "Conflicting IP addresses" in msg and "web: nic0/198.18.5.9" in msg
    assert cluster.config_bytes() == before
    _ok(cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                    network_mode="bridged", network_link="br0", conflicts_check=False))
    assert _nets(cluster)["net1"]["uuid"] in _group(cluster)["networks"]


def test_disconnect_and_remove_refused_while_instances_use_it(cluster):
    _add(cluster)
    uuid = _nets(cluster)["net1"]["uuid"]
    _ok(cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                    network_mode="bridged", network_link="br0"))
    _instance(cluster, "web", [{"ip": None}, {"ip": "198.18.5.2", "network": uuid}])
    before = cluster.config_bytes()
    msg = _error(cluster.run("OP_NETWORK_DISCONNECT", group_name="default",
                             network_name="net1"))
    assert "web: nic1/198.18.5.2" in msg
    assert cluster.config_bytes() == before
    # a NIC in the network on an instance of another group: remove still refuses
    cluster.master.config.modify("nodegroups", _group(cluster)["uuid"],
                                 lambda g: g.update(networks={}))
    msg = _error(cluster.run("OP_NETWORK_REMOVE", network_name="net1"))
    assert "in use" in msg and "web" in msg


@pytest.mark.parametrize(("params", "word"), [
    ({"network_mode": "tunnel"}, "network_mode"),
    ({"network_link": ""}, "network_link"),
    ({"group_name": "nosuch"}, "'nosuch' not known"),
    ({"network_name": "nosuch"}, "Network 'nosuch' not known"),
])
def test_connect_bad_input(cluster, params, word):
    _add(cluster)
    before = cluster.config_bytes()
    op = {"group_name": "default", "network_name": "net1", "network_mode": "bridged",
          "network_link": "br0", **params}
    assert word in _refused(cluster, "OP_NETWORK_CONNECT", **op)
    assert cluster.config_bytes() == before


def test_network_tags(cluster):
    _add(cluster)
    _ok(cluster.run("OP_TAGS_SET", kind="network", name="net1", tags=["x", "y"]))
    assert _ok(cluster.run("OP_TAGS_GET", kind="network", name="net1")) == ["x", "y"]
    _ok(cluster.run("OP_TAGS_DEL", kind="network", name="net1", tags=["x"]))
    assert _nets(cluster)["net1"]["tags"] == ["y"]
    assert "not known" in _error(cluster.run("OP_TAGS_GET", kind="network", name="nope"))


def _query(cluster, fields, names=()):
    return cluster.api.query("network", fields, list(names))["data"]


def test_query_fields(cluster):
    _add(cluster, gateway="198.18.5.1", mac_prefix="aa:00:01", tags=["t"])
    _add(cluster, "net2", "198.18.6.0/30", conflicts_check=False)
    uuid = _nets(cluster)["net1"]["uuid"]
    _ok(cluster.run("OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                    network_mode="bridged", network_link="br100"))
    _instance(cluster, "web", [{"ip": "198.18.5.2", "network": uuid}])
    _instance(cluster, "db", [{"ip": None}, {"ip": None, "network": uuid}])
    rows = _query(cluster, ["name", "network", "gateway", "network6", "mac_prefix", "free_count",
                            "reserved_count", "map", "external_reservations", "group_list",
                            "group_cnt", "inst_list", "inst_cnt", "tags", "uuid", "serial_no"])
    assert rows[0] == ["net1", "198.18.5.0/28", "198.18.5.1", None, "aa:00:01", 13, 3,
                       "XX.............X", "198.18.5.0, 198.18.5.1, 198.18.5.15",
                       [["default", "bridged", "br100", ""]], 1, ["db", "web"], 2, ["t"],
                       uuid, 1]
    assert rows[1][:2] == ["net2", "198.18.6.0/30"]
    assert rows[1][5:13] == [2, 2, "X..X", "198.18.6.0, 198.18.6.3", [], 0, [], 0]
    # by name or UUID, in the order given
    assert _query(cluster, ["name"], ["net2", uuid]) == [["net2"], ["net1"]]


def test_query_unknown_network_and_field(cluster):
    with pytest.raises(OpPrereqError, match="Unknown network.*: nosuch"):
        _query(cluster, ["name"], ["nosuch"])
    with pytest.raises(OpPrereqError, match="Unknown network field 'bogus'"):
        _query(cluster, ["bogus"])
    names = [f["name"] for f in cluster.api.query_fields("network")]
    assert names[:3] == ["name", "network", "gateway"] and "inst_cnt" in names


def _lu(cluster, op_id, **params):
    ctx = Context(cluster.master.config, cluster.master.locks, cluster.executor)
    lu = LU_REGISTRY[op_id](ctx, validate({"OP_ID": op_id, **params}), lambda msg: None)
    lu.check_arguments()
    lu.expand_names()
    return lu


def test_locks(cluster):
    _add(cluster)
    net = _nets(cluster)["net1"]["uuid"]
    group = _group(cluster)["uuid"]
    web = _instance(cluster, "web", [{"ip": None}])
    add = _lu(cluster, "OP_NETWORK_ADD", network_name="n2", network="198.18.6.0/24")
    assert add.declare_locks() == {LEVEL_NETWORK: [name_lock("n2")], LEVEL_NODE: ALL}
    assert add.SHARED_LEVELS == {LEVEL_NODE}
    add = _lu(cluster, "OP_NETWORK_ADD", network_name="n2", network="198.18.6.0/24",
              conflicts_check=False)
    assert add.declare_locks() == {LEVEL_NETWORK: [name_lock("n2")]}
    modify = _lu(cluster, "OP_NETWORK_SET_PARAMS", network_name="net1", mac_prefix="aa:00:00")
    assert modify.declare_locks() == {LEVEL_NETWORK: [net]}
    assert LEVEL_NETWORK not in modify.SHARED_LEVELS
    remove = _lu(cluster, "OP_NETWORK_REMOVE", network_name="net1")
    assert remove.declare_locks() == {LEVEL_NETWORK: [net], LEVEL_NODEGROUP: ALL}
    assert remove.SHARED_LEVELS == {LEVEL_NODEGROUP}
    connect = _lu(cluster, "OP_NETWORK_CONNECT", group_name="default", network_name="net1",
                  network_mode="bridged", network_link="br0")
    assert connect.declare_locks() == {LEVEL_INSTANCE: [web["uuid"]],
                                       LEVEL_NODEGROUP: [group], LEVEL_NETWORK: [net]}
    assert connect.SHARED_LEVELS == {LEVEL_INSTANCE, LEVEL_NETWORK}
    disconnect = _lu(cluster, "OP_NETWORK_DISCONNECT", group_name="default",
                     network_name="net1")
    assert disconnect.declare_locks() == {LEVEL_INSTANCE: [web["uuid"]],
                                          LEVEL_NODEGROUP: [group]}


def test_held_network_lock_blocks_a_change(cluster):
    _add(cluster)
    net = _nets(cluster)["net1"]["uuid"]
    locks = cluster.master.locks
    locks.acquire("tester", LEVEL_NETWORK, [net], shared=True)
    try:
        job_id = cluster.submit("OP_NETWORK_SET_PARAMS", network_name="net1",
                                mac_prefix="aa:00:07")
        with pytest.raises(AssertionError, match="did not finish"):
            cluster.wait(job_id, timeout=0.5)
        assert _nets(cluster)["net1"]["mac_prefix"] is None
    finally:
        locks.release("tester")
    _ok(cluster.wait(job_id))
    assert _nets(cluster)["net1"]["mac_prefix"] == "aa:00:07"

"""Instance NICs in networks: ``network=``/``ip=pool`` at create, ``modify --net``, and the
pool addresses given back at removal (real config store and job queue, recording executor)."""

from __future__ import annotations

from typing import Any

import pytest

from gnt.config.ippool import AddressPool, AddressPoolError
from gnt.config.tempips import TemporaryIps
from gnt.core.jobstate import ERROR, SUCCESS

NAME = "inst1.example.com"
LINK = {"mode": "bridged", "link": "br100", "vlan": ""}


def _network(store: Any, name: str, cidr: str, gateway: str | None = None,
             prefix: str | None = None, connect: bool = True) -> dict[str, Any]:
    net: dict[str, Any] = {"name": name, "network": cidr, "gateway": gateway,
                           "network6": None, "gateway6": None, "mac_prefix": prefix,
                           "tags": []}
    AddressPool.initialize(net).save()
    store.add("networks", net)
    if connect:
        group = store.all("nodegroups")[0]

        def link(obj: dict[str, Any]) -> None:
            obj.setdefault("networks", {})[net["uuid"]] = dict(LINK)
        store.modify("nodegroups", group["uuid"], link)
    return net


def _create(cluster: Any, name: str = NAME, **kw: Any) -> Any:
    params = {"instance_name": name, "disk_template": "file", "disks": [{"size": "1G"}],
              "os_type": "tinylinux", "pnode": "node1", "beparams": {"memory": "256M"},
              "start": False}
    params.update(kw)
    return cluster.run("OP_INSTANCE_CREATE", **params)


def _error(job: Any) -> str:
    assert job.status == ERROR, job.ops[0].log
    return str(job.ops[0].result["args"][0])


def _used(store: Any, net: dict[str, Any]) -> list[str]:
    return AddressPool(store.get("networks", net["uuid"])).instance_reservations()


def _nics(store: Any, name: str = NAME) -> list[dict[str, Any]]:
    return store.lookup("instances", name)["nics"]


def test_create_takes_pool_address_group_link_and_network_mac_prefix(cluster):
    store = cluster.master.config
    net = _network(store, "net1", "198.18.5.0/29", gateway="198.18.5.1", prefix="aa:bb:cc")
    job = _create(cluster, nics=[{"network": "net1", "ip": "pool", "name": "eth0"}])
    assert job.status == SUCCESS, job.ops[0].result
    nic = _nics(store)[0]
    # .0 (network) and .1 (gateway) are reserved outside instances: .2 is the first free
    assert nic["ip"] == "198.18.5.2" and nic["network"] == net["uuid"]
    assert nic["nicparams"] == LINK and nic["name"] == "eth0"
    assert nic["mac"].startswith("aa:bb:cc:")
    assert _used(store, net) == ["198.18.5.2"]
    assert any("Chose IP 198.18.5.2 from network net1" in line for line in
               map(str, job.ops[0].log))
    # a second instance gets the next address; the domain's NIC has the group's link
    assert _create(cluster, "inst2.example.com",
                   nics=[{"network": net["uuid"], "ip": "pool"}]).status == SUCCESS
    assert _nics(store, "inst2.example.com")[0]["ip"] == "198.18.5.3"
    got = cluster.run("OP_INSTANCE_QUERY_DATA", instances=[NAME]).ops[0].result
    assert got[NAME]["nics"][0]["network"] == "net1"
    # removal gives the address back
    assert cluster.run("OP_INSTANCE_REMOVE", instance_name=NAME).status == SUCCESS
    assert _used(store, net) == ["198.18.5.3"]


@pytest.mark.parametrize("nic, needle", [
    ({"network": "net1", "ip": "198.18.5.3"}, "already in use"),
    ({"network": "net1", "ip": "198.18.5.1"}, "198.18.5.1"),          # the gateway
    ({"network": "net1", "ip": "198.18.9.9"}, "does not belong to network net1"),
    ({"network": "net2", "ip": "pool"}, "No netparams found for network net2"),
    ({"network": "nosuchnet"}, "nosuchnet"),
    ({"ip": "pool"}, "ip=pool, parameter network must be passed too"),
    ({"network": "net1", "mode": "routed"}, "If network is given"),
    ({"ip": "198.18.5.4"}, "belongs to network net1, but the target NIC does not"),
    ({"ip": "not-an-ip"}, "Invalid IP address 'not-an-ip'"),
])
def test_create_refusals_change_nothing(cluster, nic, needle):
    store = cluster.master.config
    _network(store, "net1", "198.18.5.0/29", gateway="198.18.5.1")
    _network(store, "net2", "198.18.6.0/29", connect=False)
    assert _create(cluster, "inst2.example.com",
                   nics=[{"network": "net1", "ip": "198.18.5.3"}]).status == SUCCESS
    before = cluster.config_bytes()
    assert needle in _error(_create(cluster, nics=[nic]))
    assert cluster.config_bytes() == before
    assert store.find("instances", NAME) is None


def test_no_conflicts_check_allows_network_address_outside_the_network(cluster):
    store = cluster.master.config
    net = _network(store, "net1", "198.18.5.0/29", gateway="198.18.5.1")
    job = _create(cluster, nics=[{"ip": "198.18.5.4"}], conflicts_check=False)
    assert job.status == SUCCESS, job.ops[0].result
    assert _nics(store)[0]["network"] is None and _used(store, net) == []
    # externally reserved addresses (the gateway) are usable only without the check
    assert _create(cluster, "inst2.example.com", conflicts_check=False,
                   nics=[{"network": "net1", "ip": "198.18.5.1"}]).status == SUCCESS
    assert _used(store, net) == ["198.18.5.1"]


def test_modify_adds_changes_and_removes_nics_with_their_addresses(cluster):
    store = cluster.master.config
    net1 = _network(store, "net1", "198.18.5.0/29", gateway="198.18.5.1")
    net2 = _network(store, "net2", "198.18.6.0/29", prefix="aa:cc:dd")
    assert _create(cluster).status == SUCCESS
    first_mac = _nics(store)[0]["mac"]

    def modify(nics: list[Any], **kw: Any) -> Any:
        return cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, nics=nics, **kw)

    job = modify([["add", -1, {"network": "net1", "ip": "pool", "name": "data"}]])
    assert job.status == SUCCESS, job.ops[0].result
    assert ["nic.1", f"add:mac={_nics(store)[1]['mac']},ip=198.18.5.2,mode=bridged,"
            "link=br100,network=net1"] in job.ops[0].result
    assert _used(store, net1) == ["198.18.5.2"]
    # into another network by NIC name: new address and MAC prefix, old address back
    assert modify([["modify", "data", {"network": "net2", "ip": "pool"}]]).status == SUCCESS
    nic = _nics(store)[1]
    assert (nic["ip"], nic["network"]) == ("198.18.6.1", net2["uuid"])
    assert nic["mac"].startswith("aa:cc:dd:")
    assert _used(store, net1) == [] and _used(store, net2) == ["198.18.6.1"]
    assert "Not allowed to change link or mode" in _error(
        modify([["modify", 1, {"link": "br9"}]]))
    # the older [index, params] form changes the first NIC, which keeps its MAC
    assert modify([[0, {"ip": "198.18.7.7"}]]).status == SUCCESS
    assert _nics(store)[0]["ip"] == "198.18.7.7" and _nics(store)[0]["mac"] == first_mac
    assert modify([["remove", -1, {}]]).status == SUCCESS
    assert len(_nics(store)) == 1 and _used(store, net2) == []


@pytest.mark.parametrize("mods, needle", [
    ([["remove", 5, {}]], "Invalid NIC index 5"),
    ([["modify", "nosuch", {"ip": "none"}]], "Cannot find NIC with identifier nosuch"),
    ([["remove", 0, {"ip": "none"}]], "No settings should be passed when removing"),
    ([["add", 3, {}]], "Got NIC index 3, but there are only 1"),
    ([["add", -1, {"ip": "pool"}]], "If ip=pool, parameter network cannot be none"),
    ([["modify", 0, {"mac": "auto"}]], "'auto' is not a valid MAC address"),
    ([["modify", 0, {"colour": "red"}]], "colour"),
    ([["add", -1, {"network": "net1", "link": "br7"}]], "If network is given"),
    ([["explode", 0, {}]], "explode"),
])
def test_modify_refusals_change_nothing(cluster, mods, needle):
    _network(cluster.master.config, "net1", "198.18.5.0/29")
    assert _create(cluster).status == SUCCESS
    before = cluster.config_bytes()
    job = cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, nics=mods)
    assert needle in _error(job)
    assert cluster.config_bytes() == before


def test_a_full_pool_is_named_with_the_nic_index_at_create_only(cluster):
    """Ganeti: "Unable to get a free IP for NIC N" at create, no index at modify."""
    store = cluster.master.config
    net = _network(store, "net1", "198.18.5.0/30")  # two addresses besides network/broadcast
    for name in ("a.example.com", "b.example.com"):
        assert _create(cluster, name=name, nics=[{"network": "net1", "ip": "pool"}]).status \
            == SUCCESS
    assert len(_used(store, net)) == 2
    before = cluster.config_bytes()
    full = _error(_create(cluster, name="c.example.com",
                          nics=[{}, {"network": "net1", "ip": "pool"}]))
    assert full.startswith("Unable to get a free IP for NIC 1 from the address pool of network"
                           " net1"), full
    job = cluster.run("OP_INSTANCE_SET_PARAMS", instance_name="a.example.com",
                      nics=[["add", -1, {"network": "net1", "ip": "pool"}]])
    assert _error(job).startswith("Unable to get a free IP from the address pool of network"
                                  " net1"), _error(job)
    assert cluster.config_bytes() == before


def test_hotplug_is_refused_on_a_running_instance_and_skipped_if_possible(cluster):
    assert _create(cluster, start=True).status == SUCCESS
    add = [["add", -1, {}]]
    assert "Hotplug is not possible" in _error(cluster.run(
        "OP_INSTANCE_SET_PARAMS", instance_name=NAME, nics=add, hotplug=True))
    job = cluster.run("OP_INSTANCE_SET_PARAMS", instance_name=NAME, nics=add,
                      hotplug_if_possible=True)
    assert job.status == SUCCESS
    assert any("without hotplugging" in str(line) for line in job.ops[0].log)
    assert len(_nics(cluster.master.config)) == 2


def test_temporary_reservations_keep_two_jobs_apart():
    net: dict[str, Any] = {"uuid": "n1", "name": "net1", "network": "198.18.5.0/29",
                           "gateway": None, "mac_prefix": None}
    AddressPool.initialize(net).save()
    held = TemporaryIps()
    assert held.generate("job1", net) == "198.18.5.1"
    assert held.generate("job2", net) == "198.18.5.2"
    with pytest.raises(AddressPoolError, match="already in use"):
        held.reserve("job3", net, "198.18.5.2", check_external=True)
    with pytest.raises(AddressPoolError, match="externally reserved"):
        held.reserve("job3", net, "198.18.5.0", check_external=True)
    held.drop("job1")
    assert held.generate("job3", net) == "198.18.5.1"
    assert held.held("n1") == {"198.18.5.1", "198.18.5.2"}

"""The network address pool (gnt.config.ippool): sizes, bitmaps, reservations, map."""

from __future__ import annotations

import pytest

from gnt.config.ippool import AddressPool, AddressPoolError
from gnt.core import ipaddrs


def _net(network: str = "198.18.5.0/28", gateway: str | None = "198.18.5.1",
         **extra: object) -> dict:
    return {"name": "net1", "uuid": "u-1", "network": network, "gateway": gateway,
            "network6": None, "gateway6": None, "mac_prefix": None,
            "reservations": None, "ext_reservations": None, "tags": [],
            **extra}


def test_initialize_reserves_network_broadcast_and_gateway() -> None:
    net = _net()
    pool = AddressPool.initialize(net)
    assert pool.external_reservations() == ["198.18.5.0", "198.18.5.1", "198.18.5.15"]
    assert pool.instance_reservations() == []
    assert net["ext_reservations"] == "1100000000000001"
    assert net["reservations"] == "0" * 16
    assert pool.map() == "XX.............X"
    assert (pool.free_count(), pool.reserved_count()) == (13, 3)


def test_initialize_without_gateway() -> None:
    pool = AddressPool.initialize(_net(gateway=None))
    assert pool.external_reservations() == ["198.18.5.0", "198.18.5.15"]
    assert pool.generate_free() == "198.18.5.1"


def test_initialize_discards_old_bitmaps() -> None:
    net = _net(reservations="1" * 16, ext_reservations="1" * 16)
    AddressPool.initialize(net)
    assert net["reservations"] == "0" * 16


@pytest.mark.parametrize(("network", "words"), [
    ("10.0.0.0/15", ("too big", "/16")),
    ("10.0.0.0/8", ("too big", "/16")),
    ("198.18.5.0/31", ("too small", "/30")),
    ("198.18.5.4/32", ("too small", "/30")),
    ("2001:db8::/64", ("not an IPv4 network",)),
    ("198.18.5.1/24", ("host bits",)),
    ("198.18.5/24", ("Invalid IPv4 network",)),
    ("nonsense", ("Invalid IPv4 network", "nonsense")),
])
def test_bad_networks_are_refused(network: str, words: tuple[str, ...]) -> None:
    with pytest.raises(AddressPoolError) as err:
        AddressPool(_net(network=network, gateway=None))
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("network", ["10.0.0.0/16", "198.18.5.0/30"])
def test_size_limits_are_inclusive(network: str) -> None:
    pool = AddressPool.initialize(_net(network=network, gateway=None))
    assert pool.free_count() == pool.network.size - 2


def test_gateway_outside_network_is_refused() -> None:
    with pytest.raises(AddressPoolError, match="198.18.6.1 is not inside"):
        AddressPool(_net(gateway="198.18.6.1"))
    with pytest.raises(AddressPoolError, match="Invalid IPv4 address 'x'"):
        AddressPool(_net(gateway="x"))


def test_ipv6_fields_are_checked() -> None:
    AddressPool(_net(network6="2001:db8::/64", gateway6="2001:db8::1"))
    AddressPool(_net(network6="2001:db8::/64", gateway6="fe80::1"))  # link-local is fine
    with pytest.raises(AddressPoolError, match="not inside"):
        AddressPool(_net(network6="2001:db8::/64", gateway6="2001:db9::1"))
    with pytest.raises(AddressPoolError, match="Invalid IPv6 network"):
        AddressPool(_net(network6="198.18.0.0/24"))


def test_reserve_and_release_instance_and_external() -> None:
    net = _net()
    pool = AddressPool.initialize(net)
    pool.reserve("198.18.5.2")
    assert pool.is_reserved("198.18.5.2")
    assert not pool.is_reserved("198.18.5.2", external=True)
    with pytest.raises(AddressPoolError, match="already used by an instance"):
        pool.reserve("198.18.5.2")
    pool.reserve("198.18.5.2", external=True)  # the two kinds are independent
    with pytest.raises(AddressPoolError, match="already externally reserved"):
        pool.reserve("198.18.5.1", external=True)
    assert pool.instance_reservations() == ["198.18.5.2"]
    assert pool.reserved_count() == 4
    pool.release("198.18.5.2", external=True)
    pool.release("198.18.5.2")
    with pytest.raises(AddressPoolError, match="not used by an instance"):
        pool.release("198.18.5.2")
    with pytest.raises(AddressPoolError, match="not externally reserved"):
        pool.release("198.18.5.3", external=True)
    assert pool.free_count() == 13


def test_changes_reach_the_dict_only_on_save() -> None:
    net = _net()
    pool = AddressPool.initialize(net)
    pool.reserve("198.18.5.3")
    assert net["reservations"] == "0" * 16
    pool.save()
    assert net["reservations"] == "0001" + "0" * 12
    again = AddressPool(net)
    assert again.is_reserved("198.18.5.3")
    assert again.map() == "XX.X...........X"


def test_addresses_outside_the_network() -> None:
    pool = AddressPool.initialize(_net())
    assert pool.contains("198.18.5.7")
    assert not pool.contains("198.18.5.16")
    assert not pool.contains("")
    assert not pool.contains("garbage")
    assert not pool.contains("2001:db8::1")
    with pytest.raises(AddressPoolError, match="198.18.5.16 is not inside"):
        pool.reserve("198.18.5.16")
    with pytest.raises(AddressPoolError, match="not inside"):
        pool.is_reserved("10.0.0.1")
    with pytest.raises(AddressPoolError, match="Invalid IPv4 address"):
        pool.release("bogus")


def test_generate_free_walks_and_reports_full() -> None:
    pool = AddressPool.initialize(_net(network="198.18.5.0/30", gateway=None))
    first = pool.generate_free()
    assert first == "198.18.5.1"
    assert pool.generate_free() == first  # not reserved by asking
    pool.reserve(first)
    assert pool.generate_free() == "198.18.5.2"
    pool.reserve("198.18.5.2", external=True)
    assert pool.free_count() == 0
    with pytest.raises(AddressPoolError, match="198.18.5.0/30 is full"):
        pool.generate_free()


@pytest.mark.parametrize("bitmap", ["01", "0" * 15 + "2", 5])
def test_corrupt_bitmaps_are_refused(bitmap: object) -> None:
    with pytest.raises(AddressPoolError, match="'reservations' must be 16 characters"):
        AddressPool(_net(reservations=bitmap))


def test_big_network_map_length() -> None:
    pool = AddressPool.initialize(_net(network="10.1.0.0/16", gateway="10.1.255.254"))
    assert len(pool.map()) == 65536
    assert pool.reserved_count() == 3
    assert pool.external_reservations()[-2:] == ["10.1.255.254", "10.1.255.255"]


@pytest.mark.parametrize("parse", [ipaddrs.parse_ipv4_network, ipaddrs.parse_ipv4_address,
                                   ipaddrs.parse_ipv6_network, ipaddrs.parse_ipv6_address])
@pytest.mark.parametrize("value", [{}, [], 5, None])
def test_non_strings_are_invalid_addresses_not_crashes(parse, value) -> None:
    with pytest.raises(ipaddrs.InvalidAddress, match="not a string"):
        parse(value)


def test_a_bad_opcode_address_is_a_prerequisite_error() -> None:
    from gnt.core.errors import OpPrereqError
    from gnt.opcodes.registry import validate

    with pytest.raises(OpPrereqError, match="gateway6"):
        validate({"OP_ID": "OP_NETWORK_SET_PARAMS", "network_name": "n", "gateway6": {}})

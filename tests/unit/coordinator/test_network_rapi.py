"""The /2/networks RAPI resources against a real in-process master: Ganeti's body field names,
list/bulk/one shapes, tags, the generic query, errors."""

from __future__ import annotations

from typing import Any

import pytest
from test_move_instance_rapi import InProcessRapi, _own_field_cache  # noqa: F401  # pylint: disable=unused-import

from gnt.cli._rapi_http import RapiError
from gnt.core.jobstate import SUCCESS
from gnt.rapi import routes
from gnt.rapi.resources import NET_FIELDS


def _done(cluster: Any, job_id: int) -> Any:
    job = cluster.wait(int(job_id))
    assert job.status == SUCCESS, [op.log for op in job.ops] + [job.ops[0].result]
    return job


def test_network_lifecycle_through_the_rapi(cluster: Any) -> None:
    rapi = InProcessRapi(cluster, "cluster.example.com")
    _done(cluster, rapi.request("POST", "/2/networks", body={
        "name": "net1", "network": "198.18.5.0/28", "gateway": "198.18.5.1",
        "add_reserved_ips": ["198.18.5.2"], "mac_prefix": "aa:00:05", "tags": ["x"]}))
    assert rapi.request("GET", "/2/networks") == [{"name": "net1", "uri": "/2/networks/net1"}]
    _done(cluster, rapi.request("PUT", "/2/networks/net1/connect", body={
        "group_name": "default", "network_mode": "bridged", "network_link": "br5"}))
    one = rapi.request("GET", "/2/networks/net1")
    assert set(one) == set(NET_FIELDS)
    assert (one["network"], one["gateway"], one["mac_prefix"]) == (
        "198.18.5.0/28", "198.18.5.1", "aa:00:05")
    assert (one["free_count"], one["reserved_count"]) == (12, 4)
    assert one["group_list"] == [["default", "bridged", "br5", ""]] and one["inst_list"] == []
    assert one["external_reservations"] == "198.18.5.0, 198.18.5.1, 198.18.5.2, 198.18.5.15"
    [bulk] = rapi.request("GET", "/2/networks", query={"bulk": 1})
    assert bulk == one
    _done(cluster, rapi.request("PUT", "/2/networks/net1/modify",
                                body={"remove_reserved_ips": ["198.18.5.2"]}))
    assert rapi.request("GET", "/2/networks/net1")["free_count"] == 13
    # tags
    _done(cluster, rapi.request("PUT", "/2/networks/net1/tags", query={"tag": "y"}))
    assert rapi.request("GET", "/2/networks/net1/tags") == ["x", "y"]
    _done(cluster, rapi.request("DELETE", "/2/networks/net1/tags", query={"tag": "x"}))
    assert rapi.request("GET", "/2/networks/net1/tags") == ["y"]
    # the generic query knows the resource
    answer = rapi.request("GET", "/2/query/network", query={"fields": "name,group_cnt"})
    assert answer["data"] == [[[0, "net1"], [0, 1]]]
    _done(cluster, rapi.request("PUT", "/2/networks/net1/disconnect",
                                body={"group_name": "default"}))
    _done(cluster, rapi.request("DELETE", "/2/networks/net1"))
    assert rapi.request("GET", "/2/networks") == []


def test_rapi_errors(cluster: Any) -> None:
    rapi = InProcessRapi(cluster, "cluster.example.com")
    before = cluster.config_bytes()
    with pytest.raises(RapiError) as err:
        rapi.request("GET", "/2/networks/nosuch")
    assert err.value.code == 404 and "nosuch" in str(err.value)
    with pytest.raises(RapiError) as err:
        rapi.request("POST", "/2/networks", body={"name": "n", "network": "198.18.5.9/24"})
    assert err.value.code == 400 and "198.18.5.9/24" in str(err.value)
    with pytest.raises(RapiError) as err:
        rapi.request("PUT", "/2/networks/n/connect", body={"group_name": "default",
                                                           "network_mode": "bridged",
                                                           "network_name": "other",
                                                           "network_link": "br0"})
    assert err.value.code == 400 and "network_name" in str(err.value)
    assert cluster.config_bytes() == before


def test_network_rename_is_not_a_ganeti_30_operation() -> None:
    route, _items = routes.match("/2/networks/net1/rename")
    assert route.methods["PUT"].resource is None  # answers 501, as 3.0 has no rename

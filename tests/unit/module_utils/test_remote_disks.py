"""remote_disks: an instance's disks between two clusters' nodes, for real on loopback:
detached receivers started and waited for in separate calls (as two module runs), parallel
senders, compression, a wrong magic and an untrusted peer refused with the disks untouched,
stopped receivers leaving nothing behind."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils import remote_disks as rd
from gnt.core import certs

MIB = 1024 * 1024


def _key_dir(root: Path, name: str) -> Path:
    """A per-move key directory as the x509-create node call makes it."""
    directory = root / name
    directory.mkdir(mode=0o700)
    pem = certs.make_self_signed(name, ["127.0.0.1"])
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    (directory / "key").write_bytes(pem[:start])
    (directory / "cert").write_bytes(pem[start:])
    return directory


def _instance(root: Path, name: str, sizes: list[int], fill: bool) -> dict:
    disks = []
    for index, size in enumerate(sizes):
        path = root / f"{name}-disk{index}"
        with open(path, "wb") as out:
            out.truncate(size * MIB)
            if fill:
                out.seek(index * 4096)
                out.write(os.urandom(MIB + 123) + b"disk%d" % index)
        disks.append({"index": index, "path": str(path), "size_mib": size})
    return {"name": name, "os": "", "disks": disks}


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def move(tmp_path):
    src_keys, dst_keys = _key_dir(tmp_path, "src-key"), _key_dir(tmp_path, "dst-key")
    source = _instance(tmp_path, "src", [4, 2], fill=True)
    dest = _instance(tmp_path, "dst", [4, 2], fill=False)
    yield tmp_path, src_keys, dst_keys, source, dest
    rd.stop_receivers(str(dst_keys))


def _cert(directory: Path) -> str:
    return (directory / "cert").read_text()


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_disks_arrive_identical(move, compression):
    _root, src_keys, dst_keys, source, dest = move
    magics = ["m-0-" + "a" * 20, "m-1-" + "b" * 20]
    changed, ports = rd.start_receivers(dest, magics, str(dst_keys), _cert(src_keys),
                                        "127.0.0.1", compression=compression, timeout=30)
    assert changed and [p["index"] for p in ports] == [0, 1]
    state = dst_keys / "receive"
    assert state.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o077 == 0 for f in state.glob("*.pid"))
    # a second 'listening' run answers the same ports, starts nothing
    assert rd.start_receivers(dest, magics, str(dst_keys), _cert(src_keys), "127.0.0.1",
                              compression=compression) == (False, ports)
    destinations = [{"index": i, "host": "127.0.0.1", "port": p["port"], "magic": magics[i]}
                    for i, p in enumerate(ports)]
    sent = rd.send_disks(source, destinations, str(src_keys), _cert(dst_keys),
                         compression=compression, timeout=30)
    assert [entry["ok"] for entry in sent] == [True, True], sent
    received = rd.wait_receivers(str(dst_keys), 2, timeout=30)
    assert [entry["ok"] for entry in received] == [True, True], received
    for index in (0, 1):
        assert _digest(source["disks"][index]["path"]) == _digest(dest["disks"][index]["path"])
    assert not state.exists() and not (dst_keys / "peer-ca.pem").exists()


def test_sender_drops_each_disks_cached_pages_first(move, monkeypatch):
    """A drbd disk is read from its data volume, below the device DRBD wrote through: the
    volume's stale page cache must be dropped before the read (as the local export does)."""
    _root, src_keys, dst_keys, source, dest = move
    magics = ["m-0-" + "c" * 20, "m-1-" + "d" * 20]
    _changed, ports = rd.start_receivers(dest, magics, str(dst_keys), _cert(src_keys),
                                         "127.0.0.1", timeout=30)
    dropped: list[str] = []
    monkeypatch.setattr(rd.dump, "drop_cached_pages", dropped.append)
    destinations = [{"index": i, "host": "127.0.0.1", "port": p["port"], "magic": magics[i]}
                    for i, p in enumerate(ports)]
    sent = rd.send_disks(source, destinations, str(src_keys), _cert(dst_keys), timeout=30)
    assert [entry["ok"] for entry in sent] == [True, True], sent
    assert sorted(dropped) == sorted(disk["path"] for disk in source["disks"])
    assert [entry["ok"] for entry in rd.wait_receivers(str(dst_keys), 2, timeout=30)] == \
        [True, True]


def test_wrong_magic_and_stranger_write_nothing(move, tmp_path):
    _root, src_keys, dst_keys, source, dest = move
    stranger = _key_dir(tmp_path, "stranger")
    _changed, ports = rd.start_receivers(dest, ["good0", "good1"], str(dst_keys),
                                         _cert(src_keys), "127.0.0.1", timeout=5)
    before = [_digest(d["path"]) for d in dest["disks"]]
    wrong = [{"index": 0, "host": "127.0.0.1", "port": ports[0]["port"], "magic": "bad0"}]
    assert not rd.send_disks(source, wrong, str(src_keys), _cert(dst_keys), timeout=5)[0]["ok"]
    other = [{"index": 1, "host": "127.0.0.1", "port": ports[1]["port"], "magic": "good1"}]
    result = rd.send_disks(source, other, str(stranger), _cert(dst_keys), timeout=3)
    assert not result[0]["ok"]
    received = rd.wait_receivers(str(dst_keys), 2, timeout=30)
    assert not received[0]["ok"] and "wrong magic" in received[0]["msg"]
    assert not received[1]["ok"]
    assert [_digest(d["path"]) for d in dest["disks"]] == before


def test_waiting_with_a_budget_and_progress(move):
    _root, src_keys, dst_keys, source, dest = move
    _changed, ports = rd.start_receivers(dest, ["p0", "p1"], str(dst_keys), _cert(src_keys),
                                         "127.0.0.1", timeout=30)
    assert rd.wait_receivers(str(dst_keys), 2, timeout=30, budget=0.3) is None
    assert rd.received(str(dst_keys), 2) == [None, None]       # no sender yet
    first = [{"index": 0, "host": "127.0.0.1", "port": ports[0]["port"], "magic": "p0"}]
    assert rd.send_disks(source, first, str(src_keys), _cert(dst_keys), timeout=30)[0]["ok"]
    assert rd.received(str(dst_keys), 2) == [4 * MIB, None]
    assert rd.wait_receivers(str(dst_keys), 2, timeout=30, budget=0.3) is None
    second = [{"index": 1, "host": "127.0.0.1", "port": ports[1]["port"], "magic": "p1"}]
    assert rd.send_disks(source, second, str(src_keys), _cert(dst_keys), timeout=30)[0]["ok"]
    results = rd.wait_receivers(str(dst_keys), 2, timeout=30, budget=10)
    assert [entry["ok"] for entry in results] == [True, True]


def test_stopped_receivers_leave_nothing(move):
    _root, src_keys, dst_keys, _source, dest = move
    _changed, ports = rd.start_receivers(dest, ["x", "y"], str(dst_keys), _cert(src_keys),
                                         "127.0.0.1", timeout=60)
    pgids = [int(p.read_text()) for p in (dst_keys / "receive").glob("*.pid")]
    assert rd.stop_receivers(str(dst_keys)) is True
    time.sleep(0.1)
    for pgid in pgids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)
    assert not (dst_keys / "receive").exists()
    assert rd.stop_receivers(str(dst_keys)) is False


def test_missing_key_refused(tmp_path):
    with pytest.raises(rd.RemoteDiskError, match="no per-move X509 key"):
        rd.start_receivers({"name": "i", "disks": []}, [], str(tmp_path / "none"), "x",
                           "127.0.0.1")

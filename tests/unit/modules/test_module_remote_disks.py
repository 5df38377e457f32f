"""remote_disk_receive and remote_disk_send through Ansible itself, for real on loopback: the
receivers started by one module run outlive it (the run returns at once), the sender's run
streams every disk, a later run waits for the receivers; the disks arrive identical. The
magics never show in the results."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from gnt.core import certs

MIB = 1024 * 1024


def _key_dir(root: Path, name: str) -> Path:
    directory = root / name
    directory.mkdir(mode=0o700)
    pem = certs.make_self_signed(name, ["127.0.0.1"])
    start = pem.index(b"-----BEGIN CERTIFICATE-----")
    (directory / "key").write_bytes(pem[:start])
    (directory / "cert").write_bytes(pem[start:])
    return directory


def _instance(root: Path, name: str, fill: bool) -> dict:
    path = root / f"{name}-disk0"
    with open(path, "wb") as out:
        out.truncate(3 * MIB)
        if fill:
            out.write(os.urandom(MIB) + b"the end")
    return {"name": name, "os": "", "disks": [{"index": 0, "path": str(path), "size_mib": 3}]}


def test_receive_and_send_through_ansible(run_module_ansible, tmp_path):
    src_keys, dst_keys = _key_dir(tmp_path, "src"), _key_dir(tmp_path, "dst")
    source, dest = _instance(tmp_path, "a", True), _instance(tmp_path, "b", False)
    magic = "secret-magic-value-0"
    started = time.monotonic()
    ok, listening = run_module_ansible("remote_disk_receive", {
        "state": "listening", "instance": dest, "key_dir": str(dst_keys),
        "peer_ca": (src_keys / "cert").read_text(), "magics": [magic],
        "bind_address": "127.0.0.1", "compression": "zstd", "timeout": 60})
    assert ok, listening
    assert time.monotonic() - started < 60          # did not wait for the receiver
    port = listening["disks"][0]["port"]
    ok, sent = run_module_ansible("remote_disk_send", {
        "instance": source, "key_dir": str(src_keys),
        "peer_ca": (dst_keys / "cert").read_text(), "compression": "zstd",
        "disks": [{"index": 0, "host": "127.0.0.1", "port": port, "magic": magic}]})
    assert ok and sent["disks"][0]["ok"], sent
    ok, finished = run_module_ansible("remote_disk_receive", {
        "state": "finished", "instance": dest, "key_dir": str(dst_keys), "timeout": 60})
    assert ok and finished["disks"][0]["ok"], finished
    assert hashlib.sha256(Path(source["disks"][0]["path"]).read_bytes()).digest() == \
        hashlib.sha256(Path(dest["disks"][0]["path"]).read_bytes()).digest()
    assert magic not in repr([listening, sent, finished])
    assert not (dst_keys / "receive").exists()


def test_stop_through_ansible(run_module_ansible, tmp_path):
    src_keys, dst_keys = _key_dir(tmp_path, "src"), _key_dir(tmp_path, "dst")
    dest = _instance(tmp_path, "b", False)
    ok, _listening = run_module_ansible("remote_disk_receive", {
        "state": "listening", "instance": dest, "key_dir": str(dst_keys),
        "peer_ca": (src_keys / "cert").read_text(), "magics": ["m"],
        "bind_address": "127.0.0.1", "timeout": 60})
    assert ok
    ok, stopped = run_module_ansible("remote_disk_receive", {
        "state": "absent", "instance": dest, "key_dir": str(dst_keys)})
    assert ok and stopped["changed"] and not (dst_keys / "receive").exists()

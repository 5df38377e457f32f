"""Module payloads outlive the warm worker (issue 11): the worker links Ansible's payload cache
to a private directory per code stamp, its helper builds the payload of every module the
roles use ahead, and a later worker (of another cluster of the machine too) builds none again.

Real Ansible runs on this machine through the local connection (no libvirt needed).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gnt.core import settings
from gnt.nodes import warm
from gnt.nodes.executor import AnsibleExecutor, NodeAccess, Play

pytestmark = pytest.mark.integration

NODES = {"n1": NodeAccess("n1", "127.0.0.1", True)}


def _payload_file(name: str) -> str:
    """The start of the cache file name Ansible gives the payload of module ``name``."""
    if name.startswith("gnt.cluster."):
        return f"ansible_collections.gnt.cluster.plugins.modules.{name.split('.')[-1]}-"
    return f"ansible.modules.{name.split('.')[-1]}-"


def _cached(cache: Path) -> dict[str, int]:
    """Payload file name -> mtime; lock files and payloads still being written (Ansible's
    ``-part`` files, renamed away at any moment) are not payloads yet."""
    files = {}
    for path in cache.iterdir():
        if path.name.endswith((".lock", "-part")):
            continue
        try:
            files[path.name] = path.stat().st_mtime_ns
        except FileNotFoundError:   # replaced between the listing and the look
            continue
    return files


def _wait_for_all(cache: Path, timeout: float = 120) -> dict[str, int]:
    wanted = [_payload_file(name) for name in warm.payload_modules()]
    deadline = time.monotonic() + timeout
    while True:
        files = _cached(cache) if cache.is_dir() else {}
        if all(any(name.startswith(prefix) for name in files) for prefix in wanted):
            return files
        if time.monotonic() > deadline:
            raise AssertionError(f"payloads not built ahead: {sorted(files)}")
        time.sleep(0.2)


def _start(root: Path, monkeypatch) -> AnsibleExecutor:
    monkeypatch.setenv("GNT_ROOT", str(root))
    executor = AnsibleExecutor(mode="warm")
    executor.prewarm()
    return executor


def test_payloads_are_built_ahead_and_kept_for_the_next_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("GNT_PAYLOAD_CACHE", str(tmp_path / "cache"))
    first = _start(tmp_path / "root1", monkeypatch)
    try:
        [cache] = list((tmp_path / "cache").iterdir())
        assert cache.stat().st_mode & 0o777 == 0o700
        built = _wait_for_all(cache)
        # the worker's own local temp dir points Ansible's cache there
        links = list((tmp_path / "root1").glob("var/lib/gnt/ansible/tmp/ansible-local-*/ansiballz_cache"))
        assert [os.readlink(link) for link in links] == [str(cache)]
        result = first.run([Play("test_delay", {"n1": {"gnt_delay": 0}})], NODES, lambda _l: None)
        assert result.ok
    finally:
        first.close()
    second = _start(tmp_path / "root2", monkeypatch)   # another cluster, a new worker
    try:
        result = second.run([Play("test_delay", {"n1": {"gnt_delay": 0}})], NODES, lambda _l: None)
        assert result.ok
        deadline = time.monotonic() + 60
        while _pids_titled(b"gnt warm worker: building", tmp_path / "root2") \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        log = (tmp_path / "root2/var/lib/gnt/ansible/warm-worker.log").read_text()
        assert f"payloads ready: {len(warm.payload_modules())} modules" in log, log
        assert _cached(cache) == built      # nothing built again, nothing rewritten
    finally:
        second.close()
    assert settings.payload_cache_dir() == tmp_path / "cache"


def _pids_titled(prefix: bytes, root: Path) -> list[int]:
    """Processes whose title starts with ``prefix``, of the cluster at ``root`` only (other
    tests' clusters may build payloads at the same time): forked from that cluster's warm
    worker, they carry its ``GNT_ANSIBLE_RUN`` marker under ``root``."""
    marker = f"GNT_ANSIBLE_RUN={root}/".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(prefix) \
                    and marker in (entry / "environ").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


def test_the_payload_builder_stops_with_its_worker(tmp_path, monkeypatch):
    """A worker stopped (its control socket closed, as when the master daemon stops) while its
    helper still builds payloads: the helper stops too, so nothing is written afterwards into
    the cluster's tree (gnt-cluster destroy found files there written after it removed it)."""
    monkeypatch.setenv("GNT_PAYLOAD_CACHE", "")  # no shared cache: payloads go to local tmp
    executor = _start(tmp_path / "root", monkeypatch)
    deadline = time.monotonic() + 10
    while not (builders := set(_pids_titled(b"gnt warm worker: building", tmp_path / "root"))):
        assert time.monotonic() < deadline, "the worker started no payload builder"
        time.sleep(0.02)
    executor.close()
    assert not any(os.path.exists(f"/proc/{pid}") and (Path(f"/proc/{pid}/stat").read_text()
                                                       .split(") ")[-1][0] != "Z")
                   for pid in builders), "the payload builder outlived its worker"
    tree = _tree(tmp_path / "root")
    time.sleep(2)
    assert _tree(tmp_path / "root") == tree

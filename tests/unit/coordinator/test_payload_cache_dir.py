"""Where the warm worker keeps module payloads (gnt.nodes.warmclient.payload_cache, issue 11):
Ansible loads them with pickle, so only a directory nobody else can write is used; unused
stamps are pruned; and the payloads built ahead cover every module the roles run."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from gnt.nodes import warm, warmclient

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def base(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "ansiballz"
    monkeypatch.setenv("GNT_PAYLOAD_CACHE", str(path))
    return path


def test_a_private_directory_per_stamp_is_made(base):
    cache = warmclient.payload_cache("a" * 64)
    assert cache == base / ("a" * 24)
    assert base.stat().st_mode & 0o777 == 0o700 and cache.stat().st_mode & 0o777 == 0o700


def test_none_when_turned_off(monkeypatch):
    monkeypatch.setenv("GNT_PAYLOAD_CACHE", "")
    assert warmclient.payload_cache("a" * 64) is None


def test_a_directory_others_may_write_is_not_used(base):
    base.parent.mkdir()
    os.chmod(base.parent, 0o777)                    # writable by all, not sticky
    assert warmclient.payload_cache("a" * 64) is None
    os.chmod(base.parent, 0o1777)                   # sticky, as /tmp: others cannot replace ours
    assert warmclient.payload_cache("a" * 64) is not None
    os.chmod(base, 0o755)                           # the cache itself must be private
    assert warmclient.payload_cache("b" * 64) is None


def test_a_directory_of_another_user_is_not_used(base):
    base.mkdir(parents=True, mode=0o700)
    os.chown(base, 65534, 65534)
    assert warmclient.payload_cache("a" * 64) is None


def test_stamps_unused_for_a_week_are_pruned_when_a_new_one_is_made(base):
    old = warmclient.payload_cache("o" * 64)
    kept = warmclient.payload_cache("k" * 64)
    (old / "payload").write_text("x")
    week_ago = time.time() - warmclient.PAYLOAD_CACHE_KEEP - 60
    os.utime(old, (week_ago, week_ago))
    assert warmclient.payload_cache("k" * 64) == kept   # reuse: no pruning
    assert old.exists()
    warmclient.payload_cache("n" * 64)
    assert not old.exists() and kept.exists()


def test_every_module_the_roles_run_is_built_ahead():
    """Each ansible.builtin task of a role is in BUILTIN_MODULES (built ahead) or in
    CONTROLLER_ACTIONS (no module payload); each gnt.cluster one is a module of ours."""
    used = set()
    for tasks in REPO.glob("roles/*/tasks/*.yml"):
        used |= set(re.findall(r"^\s*-?\s*((?:ansible\.builtin|gnt\.cluster)\.[a-z_]+):",
                               tasks.read_text(), re.MULTILINE))
    ahead = set(warm.payload_modules())
    controller = {f"ansible.builtin.{name}" for name in warm.CONTROLLER_ACTIONS}
    assert {"ansible.builtin.command", "gnt.cluster.domain"} <= used
    assert sorted(used - ahead - controller) == []


def test_a_module_that_documents_an_action_plugin_gets_no_payload():
    """gnt.cluster.checkpoint runs on the controller (plugins/action): nothing to build."""
    ahead = set(warm.payload_modules())
    assert "gnt.cluster.checkpoint" not in ahead
    assert {"gnt.cluster.domain", "gnt.cluster.drbd_device"} <= ahead

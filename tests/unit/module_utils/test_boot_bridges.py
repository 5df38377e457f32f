"""boot_bridges: the systemd unit that makes a cluster's bridges again at boot. Written and
enabled (idempotent, check mode), one per cluster scope, removed with an empty list or on
request; bad names refused; the unit's command line, unquoted as systemd does, is the script,
and the script run by a real sh (with a recording ``ip``) makes and brings up what is missing
and refuses an interface that is not a bridge."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils import boot_bridges as bb

SCOPE = "/srv/gnt/os"


def _unit(systemd_dir, scope=SCOPE):
    return systemd_dir / bb.unit_name(scope)


def _wants(systemd_dir, scope=SCOPE):
    return systemd_dir / "multi-user.target.wants" / bb.unit_name(scope)


def test_unit_name_is_per_scope_and_stable():
    name = bb.unit_name(SCOPE)
    assert name == bb.unit_name(SCOPE + "/") and name.startswith("gnt-bridges-")
    assert name.endswith(".service") and len(name) == len("gnt-bridges-.service") + 12
    assert bb.unit_name("/tmp/gl2-root/srv/gnt/os") != name
    with pytest.raises(bb.BootBridgesError, match="invalid scope 'srv/gnt/os'"):
        bb.unit_name("srv/gnt/os")


@pytest.mark.parametrize("name", ["", "br$x", "a b", "br0;reboot", "x" * 16, "br%n", "b'r"])
def test_bad_bridge_names_are_refused(tmp_path, name):
    with pytest.raises(bb.BootBridgesError, match="invalid bridge name"):
        bb.apply(SCOPE, ["gnt-br0", name], str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_written_enabled_and_idempotent(tmp_path):
    changed, path = bb.apply(SCOPE, ["gnt-br1", "gnt-br0", "gnt-br1"], str(tmp_path))
    assert changed and path == str(_unit(tmp_path))
    text = _unit(tmp_path).read_text()
    assert "WantedBy=multi-user.target" in text and "Type=oneshot" in text
    assert "After=network.target" in text and "Before=libvirtd.service" in text
    assert os.readlink(_wants(tmp_path)) == path
    assert oct(_unit(tmp_path).stat().st_mode & 0o777) == "0o644"
    assert bb.apply(SCOPE, ["gnt-br0", "gnt-br1"], str(tmp_path)) == (False, path)
    # another cluster on the machine has a unit of its own
    other = "/tmp/gl2-root/srv/gnt/os"
    assert bb.apply(other, ["gnt-br0"], str(tmp_path))[0]
    assert _unit(tmp_path).read_text() == text


def test_check_mode_changes_nothing(tmp_path):
    assert bb.apply(SCOPE, ["gnt-br0"], str(tmp_path), check_mode=True)[0]
    assert not _unit(tmp_path).exists()
    bb.apply(SCOPE, ["gnt-br0"], str(tmp_path))
    assert bb.apply(SCOPE, ["gnt-br0", "br1"], str(tmp_path), check_mode=True)[0]
    assert "br1" not in _unit(tmp_path).read_text()
    assert bb.remove(SCOPE, str(tmp_path), check_mode=True) and _unit(tmp_path).exists()


def test_a_changed_list_rewrites_and_an_empty_one_removes(tmp_path):
    bb.apply(SCOPE, ["gnt-br0"], str(tmp_path))
    _wants(tmp_path).unlink()           # disabled by hand: enabled again
    assert bb.apply(SCOPE, ["gnt-br0", "br1"], str(tmp_path))[0]
    assert _wants(tmp_path).is_symlink() and " br1" in _unit(tmp_path).read_text()
    assert bb.apply(SCOPE, [], str(tmp_path))[0]
    assert not os.path.lexists(_unit(tmp_path)) and not os.path.lexists(_wants(tmp_path))
    assert bb.apply(SCOPE, [], str(tmp_path))[0] is False
    assert bb.remove(SCOPE, str(tmp_path)) is False


def _exec_start(text):
    """ExecStart's argv as systemd makes it: quotes removed, $$ and %% unescaped."""
    [line] = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")]
    argv = shlex.split(line[len("ExecStart="):])
    return [arg.replace("$$", "$").replace("%%", "%") for arg in argv]


def test_command_line_is_the_script_with_the_bridges(tmp_path):
    bb.apply(SCOPE, ["gnt-br1", "gnt-br0"], str(tmp_path))
    argv = _exec_start(_unit(tmp_path).read_text())
    assert argv == ["/bin/sh", "-c", bb.script(), "gnt-bridges", "gnt-br0", "gnt-br1"]
    assert "'" not in bb.script() and "\\" not in bb.script() and "%" not in bb.script()


def test_script_makes_the_missing_bridges_and_refuses_a_non_bridge(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    log = tmp_path / "ip.log"
    (fake / "ip").write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    (fake / "ip").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    missing = "gtbnone0"
    assert not os.path.exists(f"/sys/class/net/{missing}")
    argv = ["/bin/sh", "-c", bb.script(), "gnt-bridges", missing, "lo"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "interface lo exists and is not a bridge" in proc.stderr
    assert log.read_text().splitlines() == [f"link add name {missing} type bridge",
                                            f"link set dev {missing} up"]
    log.unlink()
    proc = subprocess.run(argv[:-1], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_booted(tmp_path):
    assert bb.booted(str(tmp_path)) and not bb.booted(str(tmp_path / "none"))


def test_daemon_reload_reports_a_failure():
    def failing(argv, **_kw):
        return subprocess.CompletedProcess(argv, 1, stdout="Failed to connect to bus\n")
    assert bb.daemon_reload(failing) == "Failed to connect to bus"
    assert bb.daemon_reload(lambda argv, **_kw: subprocess.CompletedProcess(argv, 0, "")) is None

    def missing(argv, **_kw):
        raise FileNotFoundError("systemctl")
    assert "systemctl" in bb.daemon_reload(missing)


def test_ensure_reloads_systemd_only_for_a_unit_it_may_have_loaded(tmp_path):
    reloads = []

    def reload():
        reloads.append(1)
        return None

    def ensure(bridges, state="present", check_mode=False):
        return bb.ensure(SCOPE, bridges, state, str(tmp_path), check_mode, reload=reload)

    changed, path, error = ensure(["gnt-br0"])          # new on the node: no reload
    assert changed and error is None and os.path.isfile(path) and reloads == []
    assert ensure(["gnt-br0"])[0] is False and reloads == []             # as it is
    assert ensure(["gnt-br0", "gnt-br1"], check_mode=True)[0] and reloads == []
    assert ensure(["gnt-br0", "gnt-br1"])[0] and reloads == [1]           # changed
    assert ensure([], state="absent")[0] and reloads == [1, 1]            # removed
    assert not os.path.exists(path)
    assert ensure([], state="absent")[0] is False and reloads == [1, 1]


def test_ensure_returns_the_reload_failure(tmp_path):
    bb.ensure(SCOPE, ["gnt-br0"], "present", str(tmp_path), reload=lambda: "boom")
    assert bb.ensure(SCOPE, ["gnt-br1"], "present", str(tmp_path),
                     reload=lambda: "no bus")[2] == "no bus"

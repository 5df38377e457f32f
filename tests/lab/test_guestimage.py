"""The guest-node image's inputs and cache rules (no build, no root needed): mirrors read from
both apt source formats, the cache key follows every input, the cache directory must be private,
and the boot script and QEMU command line carry the node's settings."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import guestconf
import guestimage
import labconf
import pytest

# Pure checks, but they live with the lab (tests/lab runs only in the integration set).
pytestmark = pytest.mark.integration


def test_host_mirrors_reads_one_line_and_deb822_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb http://other.example/ubuntu jammy main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\n"
        "URIs: http://off.example/debian\nSuites: bookworm-backports\n")
    assert guestimage.host_mirrors(tmp_path) == {
        "bookworm": "http://mirror.example/debian",
        "bookworm-updates": "http://mirror.example/debian",
        "bookworm-security": "http://security.example/debian-security"}


def test_input_key_changes_with_packages_files_and_mirrors(monkeypatch: pytest.MonkeyPatch) -> None:
    mirrors = {"bookworm": "http://mirror.example/debian"}
    key = guestimage.input_key(guestimage.inputs(mirrors))
    assert key == guestimage.input_key(guestimage.inputs(dict(mirrors)))
    assert key != guestimage.input_key(guestimage.inputs({"bookworm": "http://b.example/d"}))
    monkeypatch.setattr(guestimage, "PACKAGES", (*guestimage.PACKAGES, "htop"))
    assert key != guestimage.input_key(guestimage.inputs(mirrors))
    monkeypatch.setattr(guestimage, "BUILD_VERSION", guestimage.BUILD_VERSION + 1)
    with pytest.raises(guestimage.ImageError, match="no apt source"):
        guestimage.inputs({"jammy": "http://x.example/ubuntu"})


@pytest.mark.skipif(os.geteuid() != 0, reason="checks root ownership")
def test_cache_dir_must_be_private(tmp_path: Path) -> None:
    with pytest.raises(guestimage.ImageError, match="/tmp .*writable by others"):
        guestimage.check_private_dir(tmp_path / "cache")     # below the sticky /tmp
    base = Path(tempfile.mkdtemp(prefix="test-guestimage-", dir="/var/cache"))
    try:
        base.chmod(0o755)
        good = base / "cache"
        guestimage.check_private_dir(good)
        assert good.stat().st_mode & 0o777 == 0o700
        good.chmod(0o755)
        with pytest.raises(guestimage.ImageError, match="0700"):
            guestimage.check_private_dir(good)
    finally:
        shutil.rmtree(base)


def test_boot_script_and_qemu_argv_carry_the_node() -> None:
    node = labconf.NodeLayout(2, Path("/tmp/gntgl-x"), slot=3)
    spec = guestconf.GuestSpec(memory_mb=1024, vg="testvg")
    script = guestconf.boot_script(node, spec, ["/work/main", "/opt/py"])
    assert f"ip addr replace {node.address}/26 dev eth0" in script
    assert "vgcreate -q testvg /dev/vdb" in script
    # LVM scans the data disk alone (set before the first LVM command)
    lvm_filter = 'global_filter = [ "a|^/dev/vdb$|", "r|.*|" ]'
    assert script.index(lvm_filter) < script.index("vgs testvg")
    assert "mount --bind -o ro /run/gnt-lab/src1 /opt/py" in script
    assert "mount --bind /var/lib/gnt-lab/root /tmp/gntgl-x/root" in script
    assert "/var/lib/gnt-lab/python" not in script
    native = guestconf.boot_script(node, spec, ["/work/main", "/opt/py"], ("/opt/py", "3.11"))
    # the image's Python goes over the host's, once that is mounted
    shared_at = native.index("mount --bind -o ro /run/gnt-lab/src1 /opt/py")
    native_at = native.index("mount --bind /var/lib/gnt-lab/python /opt/py")
    assert shared_at < native_at
    assert "ln -sfn /usr/bin/python3.11 /var/lib/gnt-lab/python/bin/python3\n" in native
    assert "ln -sfn /usr/lib/python3.11 /var/lib/gnt-lab/python/lib/python3.11" in native
    argv = guestconf.qemu_argv(node, spec, kernel=Path("k"), initrd=Path("i"),
                               overlay=Path("o"), data_disk=Path("d"), vfs_socket=Path("s"),
                               pidfile=Path("p"), console=Path("c"), lab_id="ab" * 16)
    assert "tcg,thread=multi" in argv and "1024" in argv
    assert "tap,id=net0,ifname=gntlab3-n2,script=no,downscript=no" in argv
    assert "systemd.hostname=node2.lab.example" in argv[argv.index("-append") + 1]


def test_disk_users_sees_locks_and_descriptors_of_other_threads(tmp_path: Path) -> None:
    """A restarted guest waits for these: QEMU refuses a disk that is still open or locked."""
    import fcntl
    import subprocess
    import sys

    import labguest
    disk = tmp_path / "root.qcow2"
    disk.write_bytes(b"\0" * 4096)
    assert labguest._disk_users([disk]) == []
    # a child whose main thread exits while another thread keeps the disk open and locked
    code = ("import fcntl, os, sys, threading, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
            "t = threading.Thread(target=time.sleep, args=(30,)); t.start()\n"
            "print('locked', flush=True)\n"
            "import ctypes; ctypes.CDLL(None).pthread_exit(None)\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(disk)], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == b"locked\n"
        users = labguest._disk_users([disk])
        assert f"pid {child.pid}" in users
        assert any(u.startswith("lock ") and "POSIX" in u for u in users)
        with open(disk, "rb+") as f, pytest.raises(OSError):
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        child.kill()
        child.wait()
    assert labguest._disk_users([disk]) == []

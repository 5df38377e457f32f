"""File modes of everything the coordinator persists (issue 10): config, job files, serial,
archive, ssconf dir, SSH keys, OS install logs are private from creation; our dirs are 0700.

Checked twice: the mode bits, and a real read by user nobody (setpriv) that must fail EACCES.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from ansible_collections.gnt.cluster.plugins.module_utils.os_interface import load_os, run_script
from gnt.core import settings
from gnt.core.fileutil import atomic_write, write_json
from gnt.nodes import sshkeys

NOBODY = 65534
READER = ("import errno, sys\n"
          "try:\n"
          "    open(sys.argv[1], 'rb').read()\n"
          "    print('READ')\n"
          "except OSError as err:\n"
          "    print(errno.errorcode[err.errno])\n")


def read_as_nobody(path: Path) -> str:
    """What user nobody gets reading ``path``: 'READ' or the errno name (e.g. 'EACCES')."""
    proc = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           "/usr/bin/python3", "-c", READER, str(path)],
                          capture_output=True, text=True, check=True, timeout=30)
    return proc.stdout.strip()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def tmp_path():
    """A GNT_ROOT others could reach (0755, not under pytest's 0700 base dir), so the checks
    below test our own files and dirs, not the test's."""
    root = Path(tempfile.mkdtemp(prefix="gnt-modes-", dir="/var/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def open_dirs_for_traversal(dirs: list[Path]) -> None:
    """Let nobody traverse (not list) our dirs, so the file modes alone decide a read."""
    for directory in dirs:
        directory.chmod(0o711)


def test_state_files_and_dirs_are_private_after_a_real_job(cluster, tmp_path):
    first = cluster.run("OP_TEST_DELAY", duration=0)
    assert cluster.master.queue.archive(first.id)
    cluster.run("OP_TAGS_SET", kind="cluster", tags=["modes"])   # config.data + .prev
    job = cluster.run("OP_TEST_DELAY", duration=0)
    paths = settings.paths()
    queue = paths.queue_dir
    dirs = [paths.data_dir, queue, queue / "archive", queue / "archive" / "0", paths.run_dir,
            paths.log_dir]
    files = [paths.config_file, paths.data_dir / "config.data.prev", queue / "serial",
             queue / f"job-{job.id}", queue / "archive" / "0" / f"job-{first.id}"]
    for directory in dirs:
        assert directory.is_dir()
        assert mode(directory) == 0o700, f"{directory} is {oct(mode(directory))}"
    for path in files:
        assert path.is_file()
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
        assert os.stat(path).st_uid == 0
    # Nobody cannot even reach them through our 0700 dirs ...
    assert read_as_nobody(paths.config_file) == "EACCES"
    # ... nor read them once the dirs are traversable: the file modes stop the read too.
    open_dirs_for_traversal([tmp_path / "var", tmp_path / "var/lib"] + dirs)
    control = paths.data_dir / "readable-control"
    control.write_text("x")
    control.chmod(0o644)
    assert read_as_nobody(control) == "READ"   # the check itself can succeed
    for path in files:
        assert read_as_nobody(path) == "EACCES", path


def test_job_file_writes_ignore_a_permissive_umask(tmp_path):
    """Job updates (write_json sync=False) and every atomic write are 0600 whatever the umask."""
    old = os.umask(0)
    try:
        write_json(tmp_path / "job-1", {"id": 1}, sync=False)
        write_json(tmp_path / "job-2", {"id": 2})
        atomic_write(tmp_path / "sub" / "serial", b"2\n")
    finally:
        os.umask(old)
    for name in ("job-1", "job-2", "sub/serial"):
        assert mode(tmp_path / name) == 0o600, name
    assert mode(tmp_path / "sub") == 0o700
    assert read_as_nobody(tmp_path / "job-1") == "EACCES"


def test_os_install_log_and_log_dir_are_private(tmp_path):
    osdir = tmp_path / "os" / "o"
    osdir.mkdir(parents=True)
    (osdir / "ganeti_api_version").write_text("20\n")
    for script in ("create", "import", "export", "rename"):
        (osdir / script).write_text("#!/bin/sh\necho secret-ish output\n")
        (osdir / script).chmod(0o755)
    instance = {"name": "inst1.example.com", "os": "o", "osparams": {}, "hypervisor": "kvm",
                "hvparams": {}, "beparams": {}, "disks": [], "nics": [], "uuid": "u1",
                "disk_template": "diskless", "memory": 128}
    old = os.umask(0)
    try:
        result = run_script(load_os("o", str(osdir)), instance, "create",
                            log_dir=str(tmp_path / "log" / "os"))
    finally:
        os.umask(old)
    log = Path(result["log_path"])
    assert log.read_text() == "secret-ish output\n"
    assert mode(log) == 0o600
    assert mode(tmp_path / "log") == 0o700 and mode(tmp_path / "log" / "os") == 0o700
    open_dirs_for_traversal([tmp_path / "log", tmp_path / "log" / "os"])
    assert read_as_nobody(log) == "EACCES"


def test_cluster_key_copied_from_own_key_is_private_from_creation(tmp_path, monkeypatch):
    """The copy of the master's key is created 0600, not copied with the umask and chmod-ed."""
    monkeypatch.setenv("HOME", str(tmp_path))
    ssh_dir = tmp_path / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    (ssh_dir / "id_ed25519").write_text("OWN PRIVATE\n")
    (ssh_dir / "id_ed25519").chmod(0o600)
    (ssh_dir / "id_ed25519.pub").write_text("ssh-ed25519 AAAAown root@master\n")

    def no_chmod(*_args, **_kwargs):
        raise AssertionError("mode set after creation (a window with the umask's mode)")

    monkeypatch.setattr(Path, "chmod", no_chmod)
    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0)
    try:
        private, _public = sshkeys.ensure_cluster_key()
    finally:
        os.umask(old)
    key = sshkeys.key_path()
    monkeypatch.undo()
    assert private == b"OWN PRIVATE\n"
    assert mode(key) == 0o600
    ssh_dir.chmod(0o711)
    assert read_as_nobody(key) == "EACCES"

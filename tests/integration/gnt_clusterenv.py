"""Running the real gnt-* commands against a real master daemon under a temp GNT_ROOT."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# Commands that resolve a new instance name and check its IP (Ganeti's defaults). Test instance
# names are in no hosts file (and in some sandboxes every address answers a TCP connect), so
# the test helpers pass --no-name-check unless the test asks for the checks.
NAME_CHECKED = (("gnt-instance", "add"), ("gnt-instance", "rename"), ("gnt-backup", "import"))
NAME_FLAGS = ("--no-name-check", "--no-ip-check")


def without_name_checks(argv: list[str]) -> list[str]:
    """``argv`` with ``--no-name-check`` after an add/rename/import subcommand that sets
    neither check flag itself."""
    if len(argv) >= 2 and (Path(argv[0]).name, argv[1]) in NAME_CHECKED \
            and not any(arg in NAME_FLAGS for arg in argv):
        return [*argv[:2], "--no-name-check", *argv[2:]]
    return list(argv)


def libvirt_skip_reason() -> str | None:
    """Why real-libvirt tests cannot run here, or None."""
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed (scripts/setup.sh installs it)"
    try:
        import libvirt
    except ImportError:
        return "libvirt-python is not installed in this venv"
    try:
        libvirt.open("qemu:///system").close()
    except libvirt.libvirtError as err:
        return f"libvirtd does not answer on qemu:///system ({err}); scripts/setup.sh starts it"
    return None


class Gnt:
    """Runs gnt-* commands with this cluster's GNT_ROOT."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = dict(os.environ, GNT_ROOT=str(root),
                        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.env.pop("GNT_NODE_NAME", None)
        # False: add/rename/import run with --no-name-check (see without_name_checks).
        self.name_checks = False

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        argv = list(args) if self.name_checks else without_name_checks(list(args))
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    @property
    def config_file(self) -> Path:
        return self.root / "var/lib/gnt/config.data"

    def config(self) -> dict:
        return json.loads(self.config_file.read_text())

    def instances(self) -> dict[str, dict]:
        return {inst["name"]: inst for inst in self.config()["instances"].values()}

    def field(self, instance: str, field: str) -> str:
        out = self.run("gnt-instance", "list", "--no-headers", "-o", field, instance).stdout
        return out.strip()

    def console(self, instance: str) -> str:
        """``gnt-instance console`` of a running instance (non-interactive: its output)."""
        return self.run("gnt-instance", "console", instance).stdout

    def console_log(self, instance: str) -> str:
        """The console log file of ``instance`` (also after it stopped, when gnt-instance
        console refuses as Ganeti's does)."""
        path = self.root / "var/log/gnt/console" / f"{instance}.log"
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_console(self, instance: str, needle: str, count: int = 1,
                     timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            proc = self.run("gnt-instance", "console", instance, check=False)
            text = proc.stdout if proc.returncode == 0 else self.console_log(instance)
            if text.count(needle) >= count:
                return text
            time.sleep(0.5)
        raise AssertionError(f"'{needle}' x{count} not on {instance}'s console within"
                             f" {timeout}s:\n{text[-2000:]}")


def make_cluster(root: Path, name: str) -> Gnt:
    reason = libvirt_skip_reason()
    if reason:
        pytest.skip(reason)
    gnt = Gnt(root)
    gnt.run("gnt-cluster", "init", "--enabled-disk-templates=file,sharedfile,diskless", name)
    return gnt


def destroy_cluster(gnt: Gnt) -> None:
    """Remove every instance left and destroy the cluster (also stops the daemon)."""
    if not gnt.config_file.exists():
        return
    for name in gnt.instances():
        gnt.run("gnt-instance", "remove", "-f", "--ignore-failures", name, check=False)
    gnt.run("gnt-cluster", "destroy", "--yes-do-it", check=False)
    pid_file = gnt.root / "var/run/gnt/gnt-masterd.pid"
    if pid_file.exists():  # destroy failed half way: stop our daemon by PID
        subprocess.run([str(BIN / "gnt-masterd"), "stop"], env=gnt.env, check=False)

"""Hard reboot of a node (``gnt-node powercycle``), run on the node itself.

As Ganeti: the node call answers at once ("Reboot scheduled in N seconds") and a detached
child, after the delay, syncs the filesystems and writes ``b`` to the kernel's SysRq trigger
(``reboot -n -f`` if that cannot be written). The node's answer comes back before the reboot.

Safety rules Ganeti does not need (:func:`refusal`): a node whose root (``GNT_ROOT``) is not
``/`` shares its machine with other nodes or clusters (the lab's network-namespace nodes, test
clusters), and a node on the master's kernel (same boot id) would reboot the master with it;
both are refused.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gnt.core import settings

SYSRQ_TRIGGER = Path("/proc/sysrq-trigger")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
DEFAULT_DELAY = 5


class SharedKernel(Exception):
    """The node runs on the master's kernel: a powercycle would reboot the master too."""


def boot_id() -> str:
    """This machine's kernel boot id (one per running kernel)."""
    return BOOT_ID.read_text(encoding="ascii").strip()


def refusal(master_boot_id: str, is_master: bool) -> str | None:
    """Why this node must not be powercycled, or None: a node under a root other than ``/``
    shares its machine with other nodes or clusters (the lab's, tests'), and a node on the
    master's kernel would take the master down with it."""
    root = settings.root()
    if root != Path("/"):
        return (f"this node's root is {root}, not /: it shares its machine and kernel with"
                " other nodes or clusters, which a reboot would take down; refused")
    if not is_master and master_boot_id and master_boot_id == boot_id():
        return (f"this node runs on the master node's kernel (boot id {master_boot_id}):"
                " rebooting it would reboot the master and every node on that kernel; refused")
    return None


def schedule(delay: int = DEFAULT_DELAY, master_boot_id: str = "",
             is_master: bool = False) -> str:
    """Start the detached child that reboots this node after ``delay`` seconds; the answer
    Ganeti gives. Refused (:class:`SharedKernel`) when ``master_boot_id`` is this kernel's and
    this node is not the master."""
    reason = refusal(master_boot_id, is_master)
    if reason:
        raise SharedKernel(reason)
    spawn_detached([sys.executable, "-m", "gnt.nodes.powercycle", "--delay", str(int(delay))])
    return f"Reboot scheduled in {int(delay)} seconds"


def spawn_detached(argv: list[str]) -> None:
    """Start ``argv`` in a session of its own, outliving the node call."""
    subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)


def _reboot_command() -> None:
    subprocess.run(["reboot", "-n", "-f"], check=False)  # noqa: S603,S607


def reboot_now(trigger: Path = SYSRQ_TRIGGER,
               fallback: Callable[[], None] = _reboot_command) -> None:
    """Sync, then reboot at once through SysRq (``fallback``, ``reboot -n -f``, when the
    trigger cannot be written)."""
    os.sync()
    try:
        with open(trigger, "wb", buffering=0) as handle:
            handle.write(b"b")
    except OSError:
        fallback()


def main(argv: list[str] | None = None) -> int:
    """The detached child: ``python -m gnt.nodes.powercycle --delay N``."""
    parser = argparse.ArgumentParser(prog="gnt.nodes.powercycle")
    parser.add_argument("--delay", type=int, default=DEFAULT_DELAY)
    args = parser.parse_args(argv)
    time.sleep(max(0, args.delay))
    reboot_now()
    return 0


if __name__ == "__main__":
    sys.exit(main())

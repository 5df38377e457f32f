"""Process, mount and libvirt helpers for the lab (no lab state here).

Processes are identified by PID *and* kernel start time, so a recorded PID that the kernel has
since given to another process is never signalled.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path


class LabError(RuntimeError):
    """The lab cannot be brought up or torn down; the message says why and what to do."""


def run(argv: list[str], *, input_text: str | None = None, check: bool = True,
        timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise LabError with its output."""
    proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): "
                       f"{(proc.stderr or proc.stdout).strip()}")
    return proc


def start_time(pid: int) -> int | None:
    """Kernel start time of a process (to tell a recorded PID from a re-used one), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[19])


def alive(pid: int | None, start: int | None) -> bool:
    """True if ``pid`` still is the process that was recorded with ``start``."""
    if not pid:
        return False
    now = start_time(pid)
    if now is None:
        return False
    try:
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    except (OSError, IndexError):
        return False
    return start is None or now == start


def pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def processes_in(pid_ns: str) -> dict[int, str]:
    """PID -> command name of every live process in a PID namespace (host PIDs)."""
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/pid") != pid_ns:
                continue
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        if stat.split(") ")[1].startswith("Z"):
            continue
        found[int(entry.name)] = stat[stat.index("(") + 1:stat.rindex(")")]
    return found


def processes_in_netns(name: str) -> list[int]:
    """Host PIDs of every live process in the named network namespace (``ip netns pids``)."""
    try:
        inode = os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return []
    want = f"net:[{inode}]"
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.readlink(f"/proc/{entry.name}/ns/net") == want and \
                        alive(int(entry.name), None):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state in the network namespace of ``pid`` (no connection made)."""
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` in the host's mount table, deepest first."""
    prefix = str(path).rstrip("/") + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == str(path) or point.startswith(prefix):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def libvirt_domains(uri: str) -> dict[str, str]:
    """Domain name -> state name on a libvirtd (libvirt-python, else virsh)."""
    try:
        import libvirt
    except ImportError:
        out = run(["virsh", "-c", uri, "list", "--all", "--name"], timeout=10).stdout
        return {name: "?" for name in out.split()}
    names = {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
             libvirt.VIR_DOMAIN_SHUTOFF: "shut off", libvirt.VIR_DOMAIN_CRASHED: "crashed"}
    conn = libvirt.open(uri)
    try:
        return {dom.name(): names.get(dom.state()[0], str(dom.state()[0]))
                for dom in conn.listAllDomains()}
    finally:
        conn.close()


def close_control_masters(cm: Path) -> None:
    """Ask every ssh master with a socket in ``cm`` to exit (the host's; nodes' die with them)."""
    if not cm.is_dir():
        return
    procs = [subprocess.Popen(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
             for sock in cm.iterdir() if sock.is_socket()]
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 3) -> str:
    """The last lines of a log file on one line, prefixed with its path."""
    try:
        tail = path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return f"({path} unreadable)"
    return f"{path}: " + " | ".join(tail)

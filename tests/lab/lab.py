#!/usr/bin/env python
"""A gnt.cluster lab: N nodes on this machine, each a set of namespaces with its own sshd and libvirtd.

Command line (as root)::

    .venv/bin/python tests/lab/lab.py up 3 [--slot K] [--dir DIR]   # K: 0..3, default $GNT_LAB_SLOT or 0
    .venv/bin/python tests/lab/lab.py status [--dir DIR] [--json]
    .venv/bin/python tests/lab/lab.py kill node2 [--dir DIR]     # simulated node crash
    .venv/bin/python tests/lab/lab.py start node2 [--dir DIR]    # boot it again
    .venv/bin/python tests/lab/lab.py down [--dir DIR]
    .venv/bin/python tests/lab/lab.py up 3 --guest --slot 3   # QEMU TCG guests: LVM, DRBD (labguest)
    .venv/bin/python tests/lab/lab.py up 1 --guests 2 --slot 3   # node1 namespaces, node2-3 guests (labup)

Python::

    from lab import Lab            # with tests/lab on sys.path
    lab = Lab("/tmp/gntlab")
    nodes = lab.up(3)              # list[Node]: name, address, ssh, libvirt_uri, gnt_root, ...
    lab.ssh("node1", "hostname")
    lab.down()

Layout, addresses and limits: ``docs/lab.md``. Everything the lab makes is recorded in
``DIR/lab.json`` before it is made, so ``down`` also cleans up after a crash of the lab or of
the process that started it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labconf  # noqa: E402
from labconf import NodeLayout  # noqa: E402
from labnet import active_lab_dir, remove_network  # noqa: E402
from labnode import Node, NodeStatus  # noqa: E402
from labproc import (  # noqa: E402
    LabError,
    alive,
    children,
    close_control_masters,
    libvirt_domains,
    listening_ports,
    log_tail,
    mounts_under,
    pid_ns,
    port_open,
    processes_in,
    processes_in_netns,
    run,
    start_time,
)
from labup import GUEST, NETNS, check_kinds, record_kind, up_nodes  # noqa: E402

DEFAULT_DIR = Path("/tmp/gntlab")     # slot 0; slot K > 0: /tmp/gntlab{K}
STATE_FILE = "lab.json"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Longest ControlPath ssh accepts: sun_path (108) minus the ".XXXXXXXXXXXXXXXX" ssh appends while
# creating the socket, minus a margin.
MAX_CONTROL_PATH = 88
REQUIRED_TOOLS = ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "mount", "umount")
DAEMONS = {"sshd": "/usr/sbin/sshd", "libvirtd": "/usr/sbin/libvirtd"}
# The bin directory of the venv running the lab (not resolved: the venv's python is a symlink);
# first on PATH in SSH sessions, so `ssh node1 gnt-cluster version` works.
VENV_BIN = str(Path(sys.executable).parent)


def default_slot() -> int:
    """The slot from ``$GNT_LAB_SLOT``, else 0 (LabError for a bad value)."""
    value = os.environ.get(labconf.SLOT_ENV, "").strip()
    if not value:
        return 0
    try:
        return labconf.check_slot(int(value))
    except ValueError as exc:
        raise LabError(f"{labconf.SLOT_ENV}={value!r} is not a lab slot 0..{labconf.SLOTS - 1}") \
            from exc


def default_dir(slot: int) -> Path:
    """Default lab directory of a slot: /tmp/gntlab for slot 0, /tmp/gntlab{K} otherwise."""
    return DEFAULT_DIR if slot == 0 else Path(f"{DEFAULT_DIR}{slot}")


def reclaim_stale_lab(other: Path, slot: int) -> bool:
    """Clean up what is left of a dead lab in another directory whose bridge holds ``slot``.

    Two cases only, both safe while other labs run: the directory holds no state file (``up``
    records the state before it makes the network and ``down`` deletes it last, so the network
    is an orphan: its bridge and its namespaces without processes are deleted), or the lab
    finished ``up`` and none of its nodes is alive (``down`` of that lab). Returns True when it
    cleaned something; a lab that is starting or has a live node is left alone.
    """
    if str(other) == "?":
        return False
    lab = Lab(other)
    state = lab._load()
    if state is None:
        net = labconf.SlotLayout(slot)
        names = [line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines()
                 if line.startswith(net.netns_prefix)]
        cmds = [f"netns del {name}" for name in names if not processes_in_netns(name)]
        cmds.append(f"link del {net.bridge}")
        run(["ip", "-force", "-batch", "-"], input_text="\n".join(cmds) + "\n", check=False)
        print(f"lab: removed the network left in slot {slot} by {other} (no {STATE_FILE})",
              file=sys.stderr)
        return True
    if state.get("phase") != "up" or any(alive(rec.get("init_pid"), rec.get("init_start"))
                                         for rec in state["nodes"]):
        return False
    print(f"lab: every node of {other} is dead; down of that lab first", file=sys.stderr)
    lab.down()
    return True


class Lab:
    """N lab nodes described by the state file in ``lab_dir``; see the module docstring.

    ``slot`` (0..3; default ``$GNT_LAB_SLOT``, else 0) chooses the bridge, subnet and namespace
    names, so labs in different slots run at the same time. It only matters for ``up``: a lab
    that exists takes its slot from ``DIR/lab.json``. ``lab_dir`` defaults to the slot's
    ``default_dir``.
    """

    def __init__(self, lab_dir: str | Path | None = None, slot: int | None = None) -> None:
        if slot is not None:
            try:
                labconf.check_slot(slot)
            except ValueError as exc:
                raise LabError(str(exc)) from exc
        self._slot = slot
        self.dir = Path(lab_dir if lab_dir is not None else
                        default_dir(slot if slot is not None else default_slot())).absolute()
        self.timings: dict[str, float] = {}
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def slot(self) -> int:
        """The lab's slot: recorded in ``lab.json`` if the lab exists, else as asked for."""
        state = self._load()
        if state:
            return int(state.get("slot", 0))
        return self._slot if self._slot is not None else default_slot()

    @property
    def net(self) -> labconf.SlotLayout:
        """Bridge, subnet, controller and cluster addresses of the lab's slot."""
        return labconf.SlotLayout(self.slot)

    # --- state -----------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        """``DIR/lab.json``: what the lab made (written before it is made)."""
        return self.dir / STATE_FILE

    @property
    def ssh_config(self) -> Path:
        """The lab's ssh client configuration (``ssh -F`` it)."""
        return self.dir / "ssh_config"

    @property
    def key(self) -> Path:
        """The lab's private key (root on every node accepts it)."""
        return self.dir / "id_ed25519"

    @property
    def gnt_root(self) -> Path:
        """``DIR/root``: every node's GNT_ROOT (empty on the host; see ``Node.root_on_host``)."""
        return self.dir / "root"

    @property
    def shared_dir(self) -> Path:
        """The directory every node sees, also as GNT_ROOT/srv/gnt/shared-file-storage."""
        return self.dir / "shared"

    def _load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LabError(f"{self.state_file} is unreadable ({exc}); remove the lab by hand") \
                from exc

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)

    @property
    def nodes(self) -> list[Node]:
        """The lab's nodes (empty when the lab is down)."""
        state = self._load()
        if not state:
            return []
        nodes = []
        slot = int(state.get("slot", 0))
        for rec in state["nodes"]:
            lay, kind = NodeLayout(rec["index"], self.dir, slot), record_kind(state, rec)
            nodes.append(Node(name=lay.name, fqdn=lay.fqdn, address=lay.address,
                              netns=rec.get("netns", lay.netns),
                              gnt_root=str(lay.gnt_root), libvirt_uri=lay.libvirt_uri,
                              ssh=["ssh", "-F", str(self.ssh_config), lay.name],
                              init_pid=rec.get("init_pid") or 0, dir=str(lay.dir),
                              root_on_host="" if kind == GUEST else str(lay.root_on_host),
                              kind=kind))
        return nodes

    def node(self, name: str) -> Node:
        """The node called ``name`` (LabError if there is none)."""
        for node in self.nodes:
            if node.name in (name, name.split(".")[0]):
                return node
        raise LabError(f"no lab node {name!r} in {self.dir}")

    def is_up(self) -> bool:
        """True if a state file exists and every recorded node's PID 1 is alive."""
        state = self._load()
        if not state or state.get("phase") != "up":
            return False
        return all(alive(rec.get("init_pid"), rec.get("init_start")) for rec in state["nodes"])

    # --- up --------------------------------------------------------------------------------
    def _preflight(self, kinds: list[str]) -> None:
        n = len(kinds)
        if os.geteuid() != 0:
            raise LabError("the lab needs root (network namespaces, mounts)")
        if not 1 <= n <= labconf.MAX_NODES:
            raise LabError(f"node count {n} out of range 1..{labconf.MAX_NODES}")
        missing = [t for t in REQUIRED_TOOLS if not shutil.which(t)]
        missing += [p for p in DAEMONS.values() if not os.access(p, os.X_OK)]
        if missing and NETNS in kinds:     # guest nodes: labguest checks its own tools
            raise LabError(f"missing tools: {', '.join(missing)} "
                           "(apt: iproute2 util-linux openssh-server openssh-client "
                           "libvirt-daemon-system)")
        longest = max(len(socket.gethostname().split(".")[0]), len(f"node{n}"))
        control = len(str(self.dir / "cm")) + 1 + longest + len("-198.18.0.100-22")
        if control > MAX_CONTROL_PATH:
            raise LabError(f"lab directory {self.dir} is too long for ssh control sockets "
                           f"({control} > {MAX_CONTROL_PATH} characters); use a shorter --dir")
        if not Path("/root/.ssh").is_dir():    # the mount point of every node's private .ssh
            try:
                Path("/root/.ssh").mkdir(mode=0o700)
            except OSError as exc:
                raise LabError(f"/root/.ssh is missing and cannot be made ({exc}): nodes mount "
                               "their private .ssh on it") from exc
        if self.dir.exists() and any(self.dir.iterdir()) and not self.state_file.exists():
            raise LabError(f"{self.dir} is not empty and holds no {STATE_FILE}: not a lab "
                           "directory, refusing to use it")
        slot, net = self._up_slot(), labconf.SlotLayout(self._up_slot())
        other = active_lab_dir(slot)
        if other is not None and other != self.dir and reclaim_stale_lab(other, slot):
            other = active_lab_dir(slot)
        namespaces = run(["ip", "netns", "list"]).stdout
        if other is not None or net.netns_prefix in namespaces:
            where = f"in {other} (`lab.py down --dir {other}`)" if other else \
                f"(namespaces {net.netns_prefix}* exist; `ip netns list`)"
            free = [str(k) for k in range(labconf.SLOTS) if active_lab_dir(k) is None]
            raise LabError(f"another lab is up in slot {slot} {where}; free slots: "
                           f"{', '.join(free) or 'none'} (--slot K or {labconf.SLOT_ENV}=K)")

    def _guests(self, spec: dict[str, Any] | None = None) -> Any:
        """The driver of guest nodes (``labguest.GuestDriver``) on this lab."""
        from guestconf import GuestSpec
        from labguest import GuestDriver
        return GuestDriver(self, GuestSpec(**spec) if spec else None)

    def _up_slot(self) -> int:
        """The slot a new lab in this directory gets (the requested one, not a stale state's)."""
        return self._slot if self._slot is not None else default_slot()

    def up(self, n: int, kind: str = "netns", guests: int = 0, **guest: Any) -> list[Node]:
        """Create ``n`` nodes of ``kind`` and ``guests`` more guest nodes; wait until every
        sshd and libvirtd answers.

        ``kind="guest"``: the nodes are QEMU TCG guests (``labguest``; ``guest`` takes the
        ``guestconf.GuestSpec`` fields memory_mb, cpus, data_gib, vg). ``guests=m`` adds m guest
        nodes after the first ``n`` (a mixed lab: node1..nodeN namespace nodes,
        node(N+1)..node(N+M) guests, all in one slot, see ``labup``). A lab with any node
        running in this directory is an error; stale state (every node crashed, or the process
        that started it died before) is cleaned first. If anything fails, everything made so
        far is removed again.
        """
        kinds = check_kinds(n, kind, guests)
        state = self._load()
        if state:
            running = [rec["name"] for rec in state["nodes"]
                       if alive(rec.get("init_pid"), rec.get("init_start"))]
            if running:
                raise LabError(f"a lab is up in {self.dir} (running: {', '.join(running)}); "
                               "run down first")
            self.down()         # every node crashed, or the starter did: stale state
        self._preflight(kinds)
        driver = self._guests(guest) if GUEST in kinds else None
        if driver:
            driver.preflight(kinds.count(GUEST))
        t0 = time.monotonic()
        try:
            up_nodes(self, kinds, t0, driver, VENV_BIN)
        except BaseException:
            try:
                self.down()
            except LabError as exc:
                print(f"lab: clean-up after failed up: {exc}", file=sys.stderr)
            raise
        self.timings["up"] = time.monotonic() - t0
        return self.nodes

    def _spawn(self, rec: dict[str, Any], lay: NodeLayout) -> None:
        """Start the node's PID 1 and record its host PID (and the unshare parent's)."""
        argv = ["ip", "netns", "exec", lay.netns, "unshare", "--mount", "--uts", "--pid",
                "--fork", "--mount-proc", "--propagation", "private",
                "/bin/bash", str(lay.dir / "init.sh")]
        with open(lay.dir / "init.log", "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        self._procs[proc.pid] = proc
        rec["unshare_pid"], rec["unshare_start"] = proc.pid, start_time(proc.pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            kids = children(proc.pid)
            if kids and pid_ns(kids[0]) not in (None, pid_ns(proc.pid)):
                rec["init_pid"], rec["init_start"] = kids[0], start_time(kids[0])
                rec["pid_ns"] = pid_ns(kids[0])
                return
            if proc.poll() is not None:
                break
            time.sleep(0.002)
        raise LabError(f"{lay.name}: PID 1 did not start; see {lay.dir / 'init.log'}")

    def _wait_ready(self, state: dict[str, Any], layouts: list[NodeLayout]) -> None:
        pending = {lay.name: lay for lay in layouts}
        ports = {name: {labconf.SSH_PORT, labconf.LIBVIRT_TCP_PORT} for name in pending}
        started = time.monotonic()
        deadline = started + READY_TIMEOUT
        while pending:
            for name, lay in list(pending.items()):
                rec = state["nodes"][lay.index - 1]
                if not alive(rec["init_pid"], rec["init_start"]):
                    raise LabError(f"{name}: PID 1 exited; see {lay.dir / 'init.log'} and "
                                   f"{lay.dir / 'daemons.log'}")
                ports[name] -= listening_ports(rec["init_pid"])
                running = set(processes_in(rec["pid_ns"]).values())
                if time.monotonic() > started + 1 and not set(DAEMONS) <= running:
                    raise LabError(f"{name}: {', '.join(sorted(set(DAEMONS) - running))} exited: "
                                   + "; ".join(log_tail(self._daemon_log(lay, daemon))
                                               for daemon in sorted(set(DAEMONS) - running)))
                if not ports[name]:
                    try:
                        libvirt_domains(lay.libvirt_uri)
                    except Exception:   # noqa: BLE001 - libvirtd still initialising
                        continue
                    del pending[name]
            if pending and time.monotonic() > deadline:
                logs = "; ".join(str(lay.dir / "daemons.log") for lay in pending.values())
                raise LabError(f"nodes {', '.join(pending)} not ready after {READY_TIMEOUT:.0f} s "
                               f"(ports still closed: {ports}); see {logs}")
            if pending:
                time.sleep(0.02)

    @staticmethod
    def _daemon_log(lay: NodeLayout, daemon: str) -> Path:
        """Where a node daemon's errors go."""
        if daemon == "libvirtd":
            return lay.private("/var/log/libvirt") / "libvirtd.log"
        return lay.dir / "daemons.log"

    # --- down ------------------------------------------------------------------------------
    def down(self) -> None:
        """Kill every lab process by PID, delete namespaces, links, mounts and the lab's files.

        Works on a healthy, a half-started and a crashed lab (only the state file is needed).
        """
        state = self._load()
        if state is None:
            return
        t0 = time.monotonic()
        errors: list[str] = []

        def step(action: Any, *args: Any) -> bool:
            """Run one step of the clean-up; a LabError is kept and the next steps still run
            (a process that outlives SIGKILL must not leave the slot's bridge behind)."""
            try:
                action(*args)
            except LabError as exc:
                errors.append(str(exc))
                return False
            return True

        close_control_masters(self.dir / "cm")
        step(self._kill_nodes, state)
        if any(record_kind(state, rec) == GUEST for rec in state["nodes"]):
            step(self._guests().kill_all, state)
        self.timings["down_kill"] = time.monotonic() - t0
        step(remove_network, state)
        # The files (and the state file with them) go only once every process and mount is
        # gone: a later ``down`` retries what failed here.
        if step(self._unmount, state) and not errors:
            step(self._remove_files, state)
        self.timings["down"] = time.monotonic() - t0
        if errors:
            raise LabError(f"down of {self.dir} left work undone: {'; '.join(errors)}")

    def _kill_nodes(self, state: dict[str, Any]) -> None:
        """SIGKILL the namespace nodes' PID 1s (and anything in their network namespaces) and
        wait until their PID namespaces are empty."""
        recs = [rec for rec in state["nodes"] if record_kind(state, rec) == NETNS]
        namespaces = []
        for rec in recs:
            init_pid, init_start = rec.get("init_pid"), rec.get("init_start")
            if not init_pid and alive(rec.get("unshare_pid"), rec.get("unshare_start")):
                kids = children(rec["unshare_pid"])      # crashed before PID 1 was recorded
                if kids:
                    init_pid, init_start = kids[0], None
            if alive(init_pid, init_start):
                namespaces.append(pid_ns(init_pid))
                os.kill(init_pid, signal.SIGKILL)   # the kernel kills the whole PID namespace
            elif rec.get("pid_ns"):
                namespaces.append(rec["pid_ns"])
            # Anything else in the node's network namespace was started by the lab too (e.g. a
            # node whose PID was not recorded yet when the starter crashed).
            for pid in processes_in_netns(rec["netns"]):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            left = {pid: name for ns in namespaces if ns for pid, name in processes_in(ns).items()}
            left.update({pid: "?" for rec in recs for pid in processes_in_netns(rec["netns"])})
            unshare = [rec["unshare_pid"] for rec in recs
                       if alive(rec.get("unshare_pid"), rec.get("unshare_start"))]
            for pid in unshare:
                if pid in self._procs:
                    self._procs[pid].poll()
            if not left and not unshare:
                break
            if time.monotonic() > deadline:
                raise LabError(f"lab processes still alive after {STOP_TIMEOUT:.0f} s: "
                               f"{left or unshare}")
            time.sleep(0.01)
        for pid in [rec.get("unshare_pid") for rec in recs]:
            proc = self._procs.get(pid or 0)
            if proc is not None and proc.poll() is not None:
                del self._procs[pid or 0]

    def _unmount(self, state: dict[str, Any]) -> None:
        for point in mounts_under(self.dir):
            if run(["umount", point], check=False).returncode != 0:
                run(["umount", "-l", point])
        left = mounts_under(self.dir)
        if left:
            raise LabError(f"still mounted under {self.dir}: {left}")

    def _remove_files(self, state: dict[str, Any]) -> None:
        if mounts_under(self.dir):
            raise LabError(f"refusing to delete {self.dir}: mounts remain")
        for entry in self.dir.iterdir():
            if entry.name == STATE_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        self.state_file.unlink()
        if state.get("created_dir"):
            self.dir.rmdir()

    # --- status and helpers ------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        """Per node: is PID 1 alive, do sshd and libvirtd run and answer, which domains exist."""
        state = self._load()
        if not state:
            return []
        result = []
        for rec, node in zip(state["nodes"], self.nodes, strict=True):
            if node.kind == GUEST:
                result.append(self._guests().node_status(state, rec))
                continue
            init_alive = alive(rec.get("init_pid"), rec.get("init_start"))
            procs = set(processes_in(rec["pid_ns"]).values()) if init_alive and rec.get("pid_ns") \
                else set()
            sshd = "sshd" in procs and port_open(node.address, labconf.SSH_PORT)
            libvirtd = "libvirtd" in procs and port_open(node.address, labconf.LIBVIRT_TCP_PORT)
            domains: dict[str, str] = {}
            if libvirtd:
                try:
                    domains = libvirt_domains(node.libvirt_uri)
                except Exception:   # noqa: BLE001 - report it as not answering
                    libvirtd = False
            result.append(NodeStatus(node.name, node.address, init_alive, sshd, libvirtd, domains))
        return result

    def ssh(self, node: str, command: str, *, check: bool = True,
            timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a shell command on a node over SSH with the lab configuration."""
        return run(self.node(node).ssh_argv(command), check=check, timeout=timeout)

    def start_node(self, node: str) -> Node:
        """Boot a crashed node again (like a reboot: its /run is emptied, its libvirt state and
        GNT_ROOT are kept) and wait until its sshd and libvirtd answer."""
        state = self._load() or {"nodes": []}
        for rec in state["nodes"]:
            if rec["name"] != node.split(".")[0]:
                continue
            if record_kind(state, rec) == GUEST:
                self._guests().start(state, rec["name"])
                return self.node(rec["name"])
            if alive(rec.get("init_pid"), rec.get("init_start")):
                raise LabError(f"{rec['name']} is running")
            lay = NodeLayout(rec["index"], self.dir, int(state.get("slot", 0)))
            shutil.rmtree(lay.private("/run"))
            lay.private("/run").mkdir()
            self._spawn(rec, lay)
            self._save(state)
            self._wait_ready(state, [lay])
            return self.node(rec["name"])
        raise LabError(f"no lab node {node!r} in {self.dir}")

    def kill_node(self, node: str) -> None:
        """Simulate a node crash: SIGKILL its PID 1 (its sshd, libvirtd and QEMUs die with it)."""
        state = self._load() or {"nodes": []}
        for rec in state["nodes"]:
            same = rec["name"] == node.split(".")[0]
            if same and record_kind(state, rec) == GUEST:
                return self._guests().kill(state, rec["name"])
            if same and alive(rec.get("init_pid"), rec.get("init_start")):
                os.kill(rec["init_pid"], signal.SIGKILL)
                deadline = time.monotonic() + STOP_TIMEOUT
                while (processes_in(rec["pid_ns"]) or alive(rec["init_pid"], rec["init_start"])) \
                        and time.monotonic() < deadline:
                    time.sleep(0.01)
                if rec["unshare_pid"] in self._procs:
                    self._procs.pop(rec["unshare_pid"]).wait(timeout=STOP_TIMEOUT)
                return
        raise LabError(f"no running lab node {node!r} in {self.dir}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``labcli.main``)."""
    from labcli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())

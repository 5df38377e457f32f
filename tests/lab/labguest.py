"""Guest nodes of the lab: QEMU TCG guests running Debian 12's cloud kernel, for what the host
kernel cannot do (LVM logical volumes, DRBD).

``Lab.up(n, kind="guest")`` (command line ``lab.py up N --guest``) hands over to
:class:`GuestDriver`. Each node is a QEMU process (``-accel tcg,thread=multi``) booting the
cached image of ``guestimage`` from a qcow2 overlay, with a raw data disk holding the volume
group (``xenvg``), a tap on the slot's bridge with the node's slot address, and a virtiofsd
serving its share (configuration, the project's code, the lab's shared storage). Names,
addresses, SSH configuration and ``GNT_ROOT`` are those of namespace nodes (``labconf``).

Each QEMU listens for QMP on ``DIR/nodeK/qmp/qmp.sock`` (a root-only directory):
:meth:`GuestDriver.pause` stops a guest's vCPUs (an idle spare guest costs about a tenth of a
core under TCG) and :meth:`GuestDriver.resume` lets it run again, waits for its SSH and steps
its clock to the host's (a stopped guest's clock stands still).

Everything is recorded in ``DIR/lab.json`` before it is made (QEMU and virtiofsd PIDs with their
kernel start times, taps, files), so ``down`` kills by PID and removes taps and disks also after
a crash of the lab or of its starter. Layout and measured times: ``docs/lab.md``.
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
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

import guestconf
import labconf
from guestconf import GuestSpec
from guestimage import ImageError, ensure_image
from labconf import NodeLayout
from labnode import NodeStatus
from labproc import LabError, alive, libvirt_domains, log_tail, port_open, run, start_time

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)
QEMU = "qemu-system-x86_64"
READY_TIMEOUT = 420.0      # three guests booting at once on two cores under TCG
STOP_TIMEOUT = 15.0
SSH_PROBE_TIMEOUT = 20.0
QMP_TIMEOUT = 10.0
RESUME_TIMEOUT = 120.0     # until a resumed guest answers SSH again
REQUIRED_TOOLS = (QEMU, "qemu-img", "ip", "ssh", "ssh-keygen", "unshare",
                  guestconf.VIRTIOFSD)
MEMORY_MARGIN_MB = 512     # per guest on top of its RAM: QEMU, TCG translation cache


def code_paths() -> list[str]:
    """Host directories the guests mount read-only at the same paths: the checkout, the venv
    running the lab (if outside the checkout) and the Python it was made from (unless that is
    the system's, which the image has too: Debian 12's python3.11)."""
    wanted = [REPO, Path(sys.prefix), Path(sys.base_prefix)]
    paths: list[Path] = []
    for path in wanted:
        path = path.absolute()
        if path == Path("/usr") or Path("/usr") in path.parents:
            continue
        if any(path == p or p in path.parents for p in paths):
            continue
        paths = [p for p in paths if path not in p.parents] + [path]
    return [str(p) for p in paths]


def native_python_base(paths: list[str] | None = None) -> tuple[str, str] | None:
    """(the host Python the venv was made from, its ``X.Y``) when the guests mount it (it is
    one of ``paths``, by default :func:`code_paths`): the guests' own Python of that version
    stands in for it (guestconf.native_python). None when the venv's Python is the system's."""
    base = str(Path(sys.base_prefix).absolute())
    if base not in (code_paths() if paths is None else paths):
        return None
    return base, f"{sys.version_info.major}.{sys.version_info.minor}"


def _kill_matching(needle: str) -> list[int]:
    """SIGKILL every process whose command line contains ``needle`` (a lab-unique path)."""
    hit = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(needle.encode() in arg for arg in argv):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), signal.SIGKILL)
                hit.append(int(entry.name))
    return hit


def _holders(paths: list[Path]) -> list[int]:
    """Processes that have one of ``paths`` open, looking at every thread's descriptors: when a
    killed QEMU's main thread has exited first, ``/proc/PID/fd`` is already empty while its I/O
    threads still hold the disk (and its lock). One pass over ``/proc``."""
    found = []
    targets = {str(path) for path in paths}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for task in os.scandir(f"/proc/{entry.name}/task"):
                with contextlib.suppress(OSError):
                    if any(os.readlink(fd.path) in targets
                           for fd in os.scandir(f"{task.path}/fd")):
                        found.append(int(entry.name))
                        break
    return found


def _lock_holders(paths: list[Path]) -> list[str]:
    """The kernel's file locks on ``paths`` (``/proc/locks`` lines, read once): QEMU refuses
    a disk while any is left, and a lock outlives the descriptor table until the last close
    finishes."""
    keys = set()
    for path in paths:
        with contextlib.suppress(OSError):
            st = path.stat()
            keys.add(f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}")
    if not keys:
        return []
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    return [line for line in lines if keys & set(line.split())]


def _disk_users(paths: list[Path]) -> list[str]:
    """What still uses a guest's disks: PIDs with them open and locks on them."""
    return ([f"pid {pid}" for pid in _holders(paths)]
            + [f"lock {line}" for line in _lock_holders(paths)])


def _matching(needle: str) -> list[int]:
    """Live processes whose command line contains ``needle``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue
            if needle.encode() in argv and alive(int(entry.name), None):
                found.append(int(entry.name))
    return found


class GuestDriver:
    """Up, down, kill, start and status of a lab whose nodes are QEMU guests.

    Works on the ``Lab`` it is given (its directory, state file and child processes); holds no
    state of its own.
    """

    def __init__(self, lab: Any, spec: GuestSpec | None = None) -> None:
        self.lab = lab
        self.spec = spec or GuestSpec()

    # --- paths of a node on the host ------------------------------------------------------
    @staticmethod
    def files(lay: NodeLayout) -> dict[str, Path]:
        """The node's files on the host (all below ``DIR/nodeK``)."""
        return {"share": lay.dir / "share", "config": lay.dir / "share" / guestconf.CONFIG_SUBDIR,
                "overlay": lay.dir / "root.qcow2", "data": lay.dir / "data.img",
                "pidfile": lay.dir / "qemu.pid", "socket": lay.dir / "vfs.sock",
                "console": lay.dir / "console.log", "qemu_log": lay.dir / "qemu.log",
                "vfs_log": lay.dir / "virtiofsd.log", "qmp_dir": lay.dir / "qmp",
                "qmp": lay.dir / "qmp" / "qmp.sock"}

    # --- up ---------------------------------------------------------------------------------
    def preflight(self, n: int) -> None:
        """Refuse early: tools, /dev/net/tun, memory (the lab checks root, slot and directory)."""
        missing = [t for t in REQUIRED_TOOLS if not shutil.which(t)]
        if missing:
            raise LabError(f"missing tools: {', '.join(missing)} (apt: qemu-system-x86 "
                           "qemu-utils iproute2 openssh-client util-linux)")
        if not os.path.exists("/dev/net/tun"):
            raise LabError("/dev/net/tun is missing: guest nodes need tap devices")
        need = n * (self.spec.memory_mb + MEMORY_MARGIN_MB)
        avail = _mem_available_mb()
        if avail is not None and avail < need:
            raise LabError(f"{n} guest nodes need about {need} MiB of memory; "
                           f"{avail} MiB are available (--memory lowers it)")

    def state_fields(self) -> dict[str, Any]:
        """What ``lab.json`` needs for guest nodes: the image (built now if not cached), the
        spec, a lab id (machine ids, SMBIOS UUIDs) and the code paths the guests mount."""
        try:
            image = ensure_image()
        except ImageError as exc:
            raise LabError(f"guest image: {exc}") from exc
        paths = code_paths()
        return {"image": str(image.dir), "lab_id": uuid.uuid4().hex, "spec": asdict(self.spec),
                "code_paths": paths, "python": native_python_base(paths)}

    def write_node_files(self, state: dict[str, Any], lay: NodeLayout, shared: Any) -> None:
        """A guest node's share (boot script, keys, configuration, copies of the lab-wide
        files in ``shared``, a ``labup.SharedFiles``), its root overlay and data disk."""
        lab, files = self.lab, self.files(lay)
        cfg = files["config"]
        cfg.mkdir(parents=True, exist_ok=True)
        paths = state["code_paths"]
        texts = {
            "boot.sh": guestconf.boot_script(lay, self.spec, paths, state.get("python")),
            "hosts": shared.hosts, "resolv.conf": labconf.resolv_conf(),
            "sshd.conf": guestconf.sshd_dropin(lay, VENV_BIN),
            "authorized_keys": shared.public_key,
            "ssh_config": shared.client, "known_hosts": shared.known_hosts,
            "shell_rc": labconf.shell_rc(VENV_BIN),
            "libvirtd.conf": labconf.libvirtd_conf(lay, str(uuid.uuid4())),
            "qemu.conf": labconf.qemu_conf(lay)}
        for name, text in texts.items():
            (cfg / name).write_text(text)
        for src, name in ((lab.key, "id_ed25519"),
                          (lab.key.with_suffix(".pub"), "id_ed25519.pub"),
                          (lay.dir / "ssh_host_ed25519_key", "ssh_host_ed25519_key"),
                          (lay.dir / "ssh_host_ed25519_key.pub", "ssh_host_ed25519_key.pub")):
            shutil.copy2(src, cfg / name)
        cfg.chmod(0o700)
        for sub in [guestconf.SHARED_SUBDIR] + [f"{guestconf.CODE_SUBDIR}{i}"
                                                for i in range(len(paths))]:
            (files["share"] / sub).mkdir(exist_ok=True)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
             str(Path(state["image"]) / "root.img"), str(files["overlay"])])
        with open(files["data"], "wb") as data:
            data.truncate(self.spec.data_gib << 30)

    def spawn(self, state: dict[str, Any], rec: dict[str, Any], lay: NodeLayout) -> None:
        """Start the node's virtiofsd and QEMU (see ``_spawn``)."""
        self._spawn(state, rec, lay)

    def wait_ready(self, state: dict[str, Any], layouts: list[NodeLayout]) -> None:
        """Until the guest nodes of ``layouts`` answer SSH and libvirt (see ``_wait_ready``)."""
        self._wait_ready(state, layouts)

    def _spawn(self, state: dict[str, Any], rec: dict[str, Any], lay: NodeLayout) -> None:
        """Start the node's virtiofsd, then its QEMU; record each PID as soon as it exists."""
        lab, files = self.lab, self.files(lay)
        spec = GuestSpec(**state.get("spec", {}))
        image = Path(state["image"])
        with contextlib.suppress(FileNotFoundError):
            files["socket"].unlink()
        with open(files["vfs_log"], "ab") as log:
            vfs = subprocess.Popen(
                guestconf.virtiofsd_argv(files["share"], files["socket"], lab.shared_dir,
                                         state["code_paths"]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        lab._procs[vfs.pid] = vfs
        rec["vfs_pid"], rec["vfs_start"] = vfs.pid, start_time(vfs.pid)
        lab._save(state)
        deadline = time.monotonic() + 10
        while not files["socket"].exists():
            if vfs.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{lay.name}: virtiofsd did not start: "
                               f"{log_tail(files['vfs_log'])}")
            time.sleep(0.02)
        rec["console_offset"] = files["console"].stat().st_size \
            if files["console"].exists() else 0
        argv = guestconf.qemu_argv(
            lay, spec, kernel=image / "vmlinuz", initrd=image / "initrd.img",
            overlay=files["overlay"], data_disk=files["data"], vfs_socket=files["socket"],
            pidfile=files["pidfile"], console=files["console"], lab_id=state["lab_id"],
            qemu=shutil.which(QEMU) or QEMU)
        # QMP for pause/resume, in a directory only root can enter
        files["qmp_dir"].mkdir(mode=0o700, exist_ok=True)
        files["qmp_dir"].chmod(0o700)
        with contextlib.suppress(FileNotFoundError):
            files["qmp"].unlink()
        argv += ["-qmp", f"unix:{files['qmp']},server=on,wait=off"]
        with open(files["qemu_log"], "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        lab._procs[proc.pid] = proc
        rec["init_pid"], rec["init_start"] = proc.pid, start_time(proc.pid)
        rec["started"] = time.time()
        lab._save(state)

    def _wait_ready(self, state: dict[str, Any], layouts: list[NodeLayout]) -> None:
        """Until every node answers SSH (``true``) and its libvirtd answers over TCP."""
        lab = self.lab
        pending = {lay.name: lay for lay in layouts}
        probes: dict[str, subprocess.Popen[bytes]] = {}
        errors: dict[str, str] = {}      # the last failed SSH probe's message per node
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            while pending:
                for name, lay in list(pending.items()):
                    rec = state["nodes"][lay.index - 1]
                    self._check_booting(rec, lay)
                    probe = probes.get(name)
                    if probe is None:
                        if port_open(lay.address, labconf.SSH_PORT):
                            probes[name] = subprocess.Popen(
                                [*lab.node(name).ssh, "true"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                        continue
                    if probe.poll() is None:
                        continue
                    del probes[name]
                    if probe.returncode != 0:
                        errors[name] = (probe.stderr.read() if probe.stderr else b"").decode(
                            errors="replace").strip()
                        continue
                    if probe.stderr:
                        probe.stderr.close()
                    rec.setdefault("ssh_seconds", round(time.time() - rec["started"], 1))
                    try:
                        libvirt_domains(lay.libvirt_uri)
                    except Exception:   # noqa: BLE001 - libvirtd still starting
                        continue
                    rec["ready_seconds"] = round(time.time() - rec["started"], 1)
                    lab.timings[f"ssh_{name}"] = rec["ssh_seconds"]
                    lab.timings[f"ready_{name}"] = rec["ready_seconds"]
                    lab._save(state)
                    del pending[name]
                if pending and time.monotonic() > deadline:
                    raise LabError(
                        f"guest nodes {', '.join(pending)} not reachable over SSH after "
                        f"{READY_TIMEOUT:.0f} s (last ssh errors: {errors or 'none'}); see "
                        + "; ".join(log_tail(self.files(lay)["console"])
                                    for lay in pending.values()))
                if pending:
                    time.sleep(0.25)
        finally:
            for probe in probes.values():
                probe.kill()
                probe.communicate()

    def _check_booting(self, rec: dict[str, Any], lay: NodeLayout) -> None:
        """LabError if the node's QEMU died or its boot script failed."""
        files = self.files(lay)
        if not alive(rec.get("init_pid"), rec.get("init_start")):
            raise LabError(f"{lay.name}: QEMU exited: {log_tail(files['qemu_log'])}; "
                           f"{log_tail(files['console'])}")
        try:
            with open(files["console"], "rb") as console:
                console.seek(rec.get("console_offset", 0))
                text = console.read().decode(errors="replace")
        except OSError:
            return
        if guestconf.FAILED_MARK in text:
            lines = [line for line in text.splitlines() if "gnt-lab" in line or "rror" in line]
            raise LabError(f"{lay.name}: the boot script failed (console {files['console']}): "
                           + " | ".join(lines[-6:]))

    # --- down, kill, start, status ----------------------------------------------------------
    def kill_all(self, state: dict[str, Any]) -> None:
        """SIGKILL every guest's QEMU and virtiofsd (recorded PIDs, else found by their
        lab-unique paths) and wait until they are gone."""
        from labup import GUEST, record_kind
        for rec in state["nodes"]:
            if record_kind(state, rec) == GUEST:
                self._kill_node(rec, NodeLayout(rec["index"], self.lab.dir, state.get("slot", 0)))

    def _kill_node(self, rec: dict[str, Any], lay: NodeLayout) -> None:
        files = self.files(lay)
        for pid_key, start_key in (("init_pid", "init_start"), ("vfs_pid", "vfs_start")):
            if alive(rec.get(pid_key), rec.get(start_key)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(rec[pid_key], signal.SIGKILL)
        # processes not recorded yet when the starter died (their argv names these paths)
        _kill_matching(str(files["pidfile"]))
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            for proc in list(self.lab._procs.values()):
                proc.poll()
            left = [rec[k] for k, s in (("init_pid", "init_start"), ("vfs_pid", "vfs_start"))
                    if alive(rec.get(k), rec.get(s))]
            left += _matching(str(files["pidfile"])) + _matching(str(files["socket"]))
            if not left:
                break
            if time.monotonic() > deadline:
                raise LabError(f"{lay.name}: processes still alive after {STOP_TIMEOUT:.0f} s: "
                               f"{left}")
            if time.monotonic() > deadline - STOP_TIMEOUT + 2:
                _kill_matching(str(files["socket"]))    # virtiofsd normally exits by itself
            time.sleep(0.02)
        for pid in [p for p, proc in self.lab._procs.items() if proc.returncode is not None]:
            del self.lab._procs[pid]

    def kill(self, state: dict[str, Any], name: str) -> None:
        """Crash a guest node: SIGKILL its QEMU (its virtiofsd follows)."""
        for rec in state["nodes"]:
            if rec["name"] == name.split(".")[0] and \
                    alive(rec.get("init_pid"), rec.get("init_start")):
                self._kill_node(rec, NodeLayout(rec["index"], self.lab.dir, state["slot"]))
                return
        raise LabError(f"no running lab node {name!r} in {self.lab.dir}")

    def start(self, state: dict[str, Any], name: str) -> None:
        """Boot a crashed guest node again (same disks: like a reset) and wait for SSH."""
        for rec in state["nodes"]:
            if rec["name"] != name.split(".")[0]:
                continue
            if alive(rec.get("init_pid"), rec.get("init_start")):
                raise LabError(f"{rec['name']} is running")
            lay = NodeLayout(rec["index"], self.lab.dir, state["slot"])
            self._kill_node(rec, lay)        # a virtiofsd left over, if any
            files = self.files(lay)
            deadline = time.monotonic() + STOP_TIMEOUT
            disks = [files["overlay"], files["data"]]
            while users := _disk_users(disks):
                if time.monotonic() > deadline:     # QEMU would fail on the disk's lock
                    raise LabError(f"{rec['name']}: its disks are still in use: {users}")
                time.sleep(0.1)
            for key in ("ssh_seconds", "ready_seconds"):
                rec.pop(key, None)
            self._spawn(state, rec, lay)
            self._wait_ready(state, [lay])
            return
        raise LabError(f"no lab node {name!r} in {self.lab.dir}")

    def _running_node(self, state: dict[str, Any], name: str) -> NodeLayout:
        for rec in state["nodes"]:
            if rec["name"] == name.split(".")[0] and \
                    alive(rec.get("init_pid"), rec.get("init_start")):
                return NodeLayout(rec["index"], self.lab.dir, state["slot"])
        raise LabError(f"no running lab guest {name!r} in {self.lab.dir}")

    def pause(self, state: dict[str, Any], name: str) -> None:
        """Stop a guest's vCPUs (QMP ``stop``): it uses no CPU and answers nothing until
        :meth:`resume`; its devices and memory stay."""
        path = self.files(self._running_node(state, name))["qmp"]
        qmp(path, "stop")
        status = qmp(path, "query-status")
        if status.get("running"):
            raise LabError(f"{name}: still running after QMP stop ({status})")

    def resume(self, state: dict[str, Any], name: str) -> float:
        """Let a paused guest run again (QMP ``cont``), wait until it answers SSH and step
        its clock to the host's; returns how far behind the host it was (seconds)."""
        lay = self._running_node(state, name)
        qmp(self.files(lay)["qmp"], "cont")
        node = self.lab.node(lay.name)
        deadline = time.monotonic() + RESUME_TIMEOUT
        while True:
            try:
                probe = subprocess.run([*node.ssh, "date +%s.%N"], stdin=subprocess.DEVNULL,
                                       capture_output=True, text=True, check=False,
                                       timeout=SSH_PROBE_TIMEOUT)
                error = probe.stderr.strip()
                if probe.returncode == 0:
                    break
            except subprocess.TimeoutExpired:
                error = f"ssh timed out after {SSH_PROBE_TIMEOUT:.0f} s"
            if time.monotonic() > deadline:
                raise LabError(f"{name}: no SSH answer {RESUME_TIMEOUT:.0f} s after QMP cont: "
                               f"{error}")
            time.sleep(0.5)
        behind = time.time() - float(probe.stdout.strip())
        run([*node.ssh, f"date -u -s @{time.time():.3f} >/dev/null"])
        return behind

    def node_status(self, state: dict[str, Any], rec: dict[str, Any]) -> NodeStatus:
        """``NodeStatus`` of one guest node; ``init_alive`` is whether its QEMU runs."""
        lay = NodeLayout(rec["index"], self.lab.dir, state.get("slot", 0))
        running = alive(rec.get("init_pid"), rec.get("init_start"))
        sshd = running and port_open(lay.address, labconf.SSH_PORT)
        libvirtd = running and port_open(lay.address, labconf.LIBVIRT_TCP_PORT)
        domains: dict[str, str] = {}
        if libvirtd:
            try:
                domains = libvirt_domains(lay.libvirt_uri)
            except Exception:   # noqa: BLE001 - report it as not answering
                libvirtd = False
        return NodeStatus(lay.name, lay.address, running, sshd, libvirtd, domains)

    def status(self, state: dict[str, Any]) -> list[NodeStatus]:
        """``NodeStatus`` per guest node of the lab."""
        from labup import GUEST, record_kind
        return [self.node_status(state, rec) for rec in state["nodes"]
                if record_kind(state, rec) == GUEST]


def qmp(path: Path, command: str, timeout: float = QMP_TIMEOUT) -> Any:
    """Run one QMP ``command`` (no arguments) on the QEMU listening at ``path``; its
    ``return`` value. Events on the way are skipped; an error is a LabError."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except OSError as exc:
            raise LabError(f"QMP socket {path}: {exc}") from exc
        reader = sock.makefile("rb")
        reply: dict[str, Any] = {}
        for index, execute in enumerate(("", "qmp_capabilities", command)):
            if execute:
                sock.sendall(json.dumps({"execute": execute}).encode() + b"\n")
            while True:
                line = reader.readline()
                if not line:
                    raise LabError(f"QMP {path}: connection closed before the answer to "
                                   f"{execute or 'the greeting'}")
                reply = json.loads(line)
                if "error" in reply:
                    raise LabError(f"QMP {execute} on {path}: {reply['error'].get('desc')}")
                if ("QMP" in reply) if index == 0 else ("return" in reply):
                    break
        return reply["return"]


def pause_node(lab: Any, name: str) -> None:
    """Pause guest ``name`` of ``lab`` (a ``lab.Lab``): see :meth:`GuestDriver.pause`."""
    GuestDriver(lab).pause(lab._load() or {"nodes": []}, name)


def resume_node(lab: Any, name: str) -> float:
    """Resume guest ``name`` of ``lab``; seconds its clock was behind (GuestDriver.resume)."""
    return GuestDriver(lab).resume(lab._load() or {"nodes": []}, name)


def _mem_available_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def skip_reason() -> str | None:
    """Why guest nodes cannot run on this machine (for tests to skip with), or None."""
    from guestimage import cached_image
    if os.geteuid() != 0:
        return "guest nodes need root (taps, bridge, virtiofsd)"
    if not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun is missing (no tap devices for the guests)"
    for tool in REQUIRED_TOOLS:
        if not shutil.which(tool):
            return f"{tool} is not installed (apt: qemu-system-x86 qemu-utils)"
    if cached_image() is None and not shutil.which("debootstrap"):
        return ("the guest image is not built and debootstrap is missing (apt: debootstrap; "
                "then `.venv/bin/python tests/lab/guestimage.py build`)")
    return None

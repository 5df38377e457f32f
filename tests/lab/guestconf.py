"""Text of what a guest node gets: its boot script, sshd drop-in, kernel command line and QEMU
command line.

Pure functions of the layout (no side effects), like ``labconf`` for namespace nodes. The guest
image (``guestimage``) is generic; at boot its ``gnt-lab-boot.service`` mounts the node's
share (virtiofs tag ``gntlab``, served by a ``virtiofsd`` per node from the host's
``DIR/nodeK/share``) and runs ``config/boot.sh`` from it, which sets the address, copies keys and
configuration into place and mounts the project's code from the same share. The cloud kernel has
virtiofs but no 9p. See ``docs/lab.md`` ("Guest nodes").
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

import labconf
from labconf import NodeLayout

SHARE_TAG = "gntlab"             # virtiofs tag of the node's share (DIR/nodeK/share)
SHARE_MOUNT = "/run/gnt-lab"     # where the image's boot unit mounts it in the guest
CONFIG_SUBDIR = "config"         # the node's files (boot.sh, keys, configuration), read-only
SHARED_SUBDIR = "shared"         # DIR/shared, read-write: the sharedfile storage
CODE_SUBDIR = "src"              # src0, src1 ...: checkout, venv, its Python (read-only)
PERSISTENT_ROOT = "/var/lib/gnt-lab/root"   # in the guest: behind GNT_ROOT, kept over reboots
DEFAULT_VG = "xenvg"
DATA_DEVICE = "/dev/vdb"         # the data disk (second virtio disk; the root is /dev/vda)
READY_MARK = "gnt-lab-boot: ready"
FAILED_MARK = "gnt-lab-boot: FAILED"
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
BLACKLIST = ("kvm", "kvm_amd", "kvm_intel", "ata_piix", "ata_generic", "pata_acpi",
             "powernow_k8", "floppy", "pcspkr", "serio_raw")


@dataclass(frozen=True)
class GuestSpec:
    """Resources and options of the guest nodes of one lab.

    Two vCPUs: a node's work runs several processes at once (LVM, udev, DRBD, the module and
    the agent). Tried 2026-12-05: one vCPU made a sequential job 25% faster beside another
    guest, but the storage lab's jobs ran two to three times slower (on a day with ~20% CPU
    steal, so partly the machine; a probe command then waited on the busy vCPU)."""

    memory_mb: int = 1280
    cpus: int = 2
    data_gib: int = 10
    vg: str = DEFAULT_VG


def tap(node: NodeLayout) -> str:
    """The node's tap on the slot bridge (the name a namespace node's veth would have)."""
    return node.veth


def mac(node: NodeLayout) -> str:
    """A fixed locally administered MAC per slot and node."""
    return f"52:54:00:6c:{node.slot:02x}:{node.index:02x}"


def machine_id(node: NodeLayout, lab_id: str) -> str:
    """The node's systemd machine id (32 hex digits, distinct per lab and node)."""
    return f"{lab_id[:24]}{node.slot:02x}{node.index:06x}"


def kernel_cmdline(node: NodeLayout, lab_id: str) -> str:
    """Kernel command line: root on the first virtio disk, serial console, host name.

    No KVM modules (QEMU's default CPU offers SVM, so the guest would load kvm_amd and
    libvirt could pick KVM: instances on guest nodes must run under TCG), no drivers for the
    emulated IDE and power management (boot time under TCG); ``quiet`` keeps the serial console
    (slow under TCG) to warnings and the boot script's lines.
    """
    return (f"root=/dev/vda rw console=ttyS0,115200 net.ifnames=0 mitigations=off quiet "
            f"modprobe.blacklist={','.join(BLACKLIST)} "
            f"systemd.hostname={node.fqdn} systemd.machine_id={machine_id(node, lab_id)} "
            "systemd.firstboot=off systemd.show_status=auto")


def sshd_dropin(node: NodeLayout, venv_bin: str) -> str:
    """``/etc/ssh/sshd_config.d/gnt-lab.conf`` (read first, so it wins over Debian's file)."""
    return f"""# gnt.cluster lab guest node {node.name}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
MaxStartups 100:30:200
MaxSessions 100
PrintMotd no
SetEnv GNT_ROOT={node.gnt_root} GNT_LAB_NODE={node.name} GNT_LAB_DIR={node.lab_dir} PATH={labconf.session_path(venv_bin)}
"""


def boot_script(node: NodeLayout, spec: GuestSpec, code_paths: list[str],
                python: tuple[str, str] | None = None) -> str:
    """``config/boot.sh`` of the node's share, run by the image's gnt-lab-boot.service.

    Runs before sshd and libvirtd: address on eth0, hosts and resolver, host key, root's keys
    and the lab's ssh files at their host paths, libvirt configuration, the code at its host
    paths (read-only), GNT_ROOT (persistent, with the shared storage below it) and the volume
    group on the data disk (made on first boot).

    ``python``: (the host path of the Python the venv was made from, its ``X.Y``): when the
    image has a Python of that version, the guest's own stands at that path (see
    :func:`native_python`) instead of the host's.
    """
    q = shlex.quote
    lab = q(str(node.lab_dir))
    root = q(str(node.gnt_root))
    shared = q(str(node.gnt_root / labconf.SHARED_STORAGE_SUBDIR))
    code = "\n".join(
        f"mkdir -p {q(path)}; mountpoint -q {q(path)} || "
        f"mount --bind -o ro {SHARE_MOUNT}/{CODE_SUBDIR}{i} {q(path)}"
        for i, path in enumerate(code_paths))
    if python:
        code += "\n" + native_python(*python)
    vg = q(spec.vg)
    return f"""#!/bin/sh
# gnt.cluster lab guest node {node.name}: run at every boot by gnt-lab-boot.service.
set -eu
trap 'rc=$?; [ $rc = 0 ] || echo "{FAILED_MARK} ($rc)" >/dev/console' EXIT
cfg={SHARE_MOUNT}/{CONFIG_SUBDIR}
# network: the slot address on eth0, no IPv6 address generation, no default route; udev may
# load the NIC's driver only after this unit started: wait for eth0 (30 s at most)
ip link set lo up
i=0
while ! ip link show eth0 >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
ip link set eth0 addrgenmode none
ip link set eth0 up
ip addr replace {node.address}/{labconf.PREFIX_LEN} dev eth0
echo {q(node.fqdn)} >/etc/hostname
echo {q(node.fqdn)} >/proc/sys/kernel/hostname
install -m 0644 "$cfg/hosts" /etc/hosts
rm -f /etc/resolv.conf
install -m 0644 "$cfg/resolv.conf" /etc/resolv.conf
# ssh: host key, root's keys and config, the lab's files at their host paths
install -m 0600 "$cfg/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 0644 "$cfg/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
install -m 0644 "$cfg/sshd.conf" /etc/ssh/sshd_config.d/gnt-lab.conf
install -d -m 0700 /root/.ssh {lab} {lab}/cm
install -m 0600 "$cfg/authorized_keys" "$cfg/id_ed25519" /root/.ssh/
install -m 0644 "$cfg/id_ed25519.pub" /root/.ssh/
install -m 0600 "$cfg/ssh_config" /root/.ssh/config
install -m 0600 "$cfg/id_ed25519" "$cfg/ssh_config" "$cfg/known_hosts" {lab}/
install -m 0644 "$cfg/shell_rc" /root/.bashrc
install -m 0644 "$cfg/shell_rc" /root/.profile
# libvirt: the lab's settings; no default NAT network (nothing leaves the lab)
install -m 0644 "$cfg/libvirtd.conf" /etc/libvirt/libvirtd.conf
install -m 0644 "$cfg/qemu.conf" /etc/libvirt/qemu.conf
rm -f /etc/libvirt/qemu/networks/autostart/default.xml
# the project's code (checkout, venv and its Python) at the host's paths, read-only
{code}
# GNT_ROOT: node-local and kept over reboots; the lab's shared storage below it
mkdir -p {PERSISTENT_ROOT} {root}
mountpoint -q {root} || mount --bind {PERSISTENT_ROOT} {root}
mkdir -p {shared}
mountpoint -q {shared} || mount --bind {SHARE_MOUNT}/{SHARED_SUBDIR} {shared}
# storage: volume group {spec.vg} on the data disk (made on first boot)
# LVM looks at the data disk alone, never into the instances' volumes or the DRBD devices on
# them (the filter Ganeti's installation guide advises): each LVM command scans one disk
mkdir -p /etc/lvm
cat >/etc/lvm/lvmlocal.conf <<'EOF_LVM'
devices {{
  global_filter = [ "a|^{DATA_DEVICE}$|", "r|.*|" ]
}}
EOF_LVM
modprobe -a dm_mod dm_snapshot
if ! vgs {vg} >/dev/null 2>&1; then
  pvcreate -q -y {DATA_DEVICE}
  vgcreate -q {vg} {DATA_DEVICE}
fi
vgchange -q -ay {vg} >/dev/null
echo "{READY_MARK} {node.name} {node.address}" >/dev/console
"""


def native_python(base: str, version: str) -> str:
    """Boot script lines: the image's own Python ``version`` (Debian's) at ``base``, the path of
    the host Python the lab's venv was made from, when the image has that version (else the
    host's, shared read-only, stays). The venv then runs on the guest's interpreter: its
    ``pyvenv.cfg`` names ``base/bin``, where the guest's binary is, and its standard library
    is found below ``base/lib``. Measured in a TCG guest node: an interpreter start 0.3 s
    instead of 1.2 s (a shared, unstripped libpython relocated under TCG, and every standard
    library file read over virtiofs); a node call of the agent 3.2 s instead of 6.5 s. Same
    ``X.Y``, so the venv's byte code and extension modules fit."""
    q = shlex.quote
    local = "/var/lib/gnt-lab/python"
    exe = f"/usr/bin/python{version}"
    stdlib = f"/usr/lib/python{version}"
    return "\n".join([
        f"# the image's Python {version} stands in for the host's at {base} (faster under TCG)",
        f"if [ -x {q(exe)} ] && [ -d {q(stdlib)} ]; then",
        f"  mkdir -p {local}/bin {local}/lib",
        *[f"  ln -sfn {q(exe)} {local}/bin/{name}"
          for name in ("python", "python3", f"python{version}")],
        f"  ln -sfn {q(stdlib)} {local}/lib/python{version}",
        f"  mount --bind {local} {q(base)}",
        "fi"])


def virtiofsd_argv(share: Path, socket: Path, shared_dir: Path,
                   code_paths: list[str]) -> list[str]:
    """argv of the node's virtiofsd, in a private mount namespace of its own.

    There the node's share directory gets its content as bind mounts: ``config`` (itself,
    read-only), ``src0``.. (the code paths, read-only) and ``shared`` (``DIR/shared``). Nothing
    is mounted in the host's namespace, so nothing is left behind when the daemon dies; it
    exits by itself when its QEMU goes away.
    """
    q = shlex.quote
    config = q(str(share / CONFIG_SUBDIR))
    binds = [f"mount --bind -o ro {config} {config}",
             f"mount --bind {q(str(shared_dir))} {q(str(share / SHARED_SUBDIR))}"]
    binds += [f"mount --bind -o ro {q(path)} {q(str(share / f'{CODE_SUBDIR}{i}'))}"
              for i, path in enumerate(code_paths)]
    script = " && ".join(binds) + (
        f" && exec {VIRTIOFSD} --socket-path={q(str(socket))} -o source={q(str(share))}"
        " -o cache=auto -o announce_submounts -o log_level=warn")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def qemu_argv(node: NodeLayout, spec: GuestSpec, *, kernel: Path, initrd: Path,
              overlay: Path, data_disk: Path, vfs_socket: Path, pidfile: Path,
              console: Path, lab_id: str, qemu: str = "qemu-system-x86_64") -> list[str]:
    """The QEMU command line of a guest node (TCG, multi-threaded)."""
    return [
        qemu, "-name", f"{node.netns},process={node.netns}", "-nodefaults", "-no-user-config",
        "-display", "none", "-machine", "pc,memory-backend=mem", "-accel", "tcg,thread=multi",
        # shared memory: virtiofsd reads and writes guest buffers directly
        "-object", f"memory-backend-memfd,id=mem,size={spec.memory_mb}M,share=on",
        "-m", str(spec.memory_mb), "-smp", str(spec.cpus),
        "-uuid", "-".join((lab_id[:8], lab_id[8:12], lab_id[12:16], f"{node.slot:04x}",
                           f"{node.index:012x}")),
        "-kernel", str(kernel), "-initrd", str(initrd),
        "-append", kernel_cmdline(node, lab_id),
        "-drive", f"file={overlay},format=qcow2,if=virtio,cache=writeback,discard=unmap",
        # raw: no metadata that a SIGKILL could lose, so flushes can be skipped
        "-drive", f"file={data_disk},format=raw,if=virtio,cache=unsafe,discard=unmap",
        "-netdev", f"tap,id=net0,ifname={tap(node)},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=net0,mac={mac(node)}",
        "-device", "virtio-rng-pci",
        "-chardev", f"socket,id=vfs,path={vfs_socket}",
        "-device", f"vhost-user-fs-pci,chardev=vfs,tag={SHARE_TAG}",
        # the console log is appended to over restarts (the lab reads it from an offset)
        "-chardev", f"file,id=con,path={console},append=on", "-serial", "chardev:con",
        "-monitor", "none", "-pidfile", str(pidfile),
    ]

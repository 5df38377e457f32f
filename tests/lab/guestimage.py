#!/usr/bin/env python
"""The node image of the lab's guest nodes: Debian 12 with its cloud kernel, built from Debian
packages, cached and reused.

Command line (as root)::

    .venv/bin/python tests/lab/guestimage.py build [--force] [--cache DIR]   # prints build time
    .venv/bin/python tests/lab/guestimage.py show [--cache DIR]              # the cached image

Python::

    from guestimage import ensure_image
    image = ensure_image()     # GuestImage: root (raw ext4), kernel, initrd, manifest

The image is ``debootstrap --variant=minbase bookworm`` into a directory, the packages of
``PACKAGES`` installed in it with ``apt-get --no-install-recommends`` (from the Debian mirror the
host's apt sources name), a little configuration (``IMAGE_FILES``), the kernel and initramfs
taken out, and the root file system made with ``mke2fs -t ext4 -d`` (no loop device, no mount).
It lives in ``/var/cache/gnt/lab-guest/<key>/`` (root-owned, 0700) where ``key`` is a hash of
everything the build depends on (``BUILD_VERSION``, suite, mirrors, packages, files, size); a
change of any of them builds a new one. Per-node settings (address, keys, shares) are not in the
image: the node's boot unit runs a script from a per-node virtiofs share (``guestconf``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bump when the build procedure changes in a way the hashed inputs do not show.
BUILD_VERSION = 1
SUITE = "bookworm"
DEFAULT_CACHE = Path("/var/cache/gnt/lab-guest")
ROOT_SIZE = "4G"          # sparse; the guests' qcow2 overlays grow on top of it
BUILD_TIMEOUT = 1800.0

#: Installed into the debootstrapped system (no recommends). What each group is for:
#: boot and services; storage (plain, drbd); the hypervisor (instances nested under TCG);
#: the node side of gnt.cluster (module interpreter /usr/bin/python3 with libvirt and jinja2;
#: disk transfers); the shared Python venv (its Python needs the libraries python3 pulls in).
PACKAGES = (
    "systemd-sysv", "udev", "dbus", "kmod", "iproute2", "procps", "psmisc", "openssh-server",
    "openssh-client", "linux-image-cloud-amd64", "initramfs-tools", "zstd",
    "lvm2", "drbd-utils", "thin-provisioning-tools",
    "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils",
    "python3", "python3-libvirt", "python3-jinja2", "python3-yaml",
    "socat", "lzop", "gzip", "iputils-ping",
)

_LIBVIRTD_DEFAULT = "# gnt.cluster lab: libvirtd stays up (no idle timeout)\nLIBVIRTD_ARGS=\"\"\n"
_DPKG_NODOC = ("path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
               "path-exclude=/usr/share/man/*\npath-exclude=/usr/share/info/*\n"
               "path-exclude=/usr/share/locale/*\n")
_POLICY_RC = "#!/bin/sh\n# no service starts in the image build\nexit 101\n"

#: Files written into the image (path -> (mode, text)). The boot unit mounts the node's
#: share (virtiofs tag ``gntlab``) and runs ``config/boot.sh`` from it; see ``guestconf``.
IMAGE_FILES: dict[str, tuple[int, str]] = {
    "/usr/local/sbin/gnt-lab-boot": (0o755, """#!/bin/sh
# gnt.cluster lab guest node: mount this node's share (virtiofs, tag gntlab) and run its boot
# script (the Debian cloud kernel has virtiofs, not 9p).
set -eu
modprobe virtiofs
mkdir -p /run/gnt-lab
mountpoint -q /run/gnt-lab || mount -t virtiofs gntlab /run/gnt-lab
exec /bin/sh /run/gnt-lab/config/boot.sh
"""),
    "/etc/systemd/system/gnt-lab-boot.service": (0o644, """[Unit]
Description=gnt.cluster lab node set-up (address, keys, shares, volume group)
After=systemd-udev-trigger.service systemd-remount-fs.service local-fs.target
# (libvirtd's sockets start earlier; a connection to one waits for libvirtd.service, so after this)
Before=ssh.service libvirtd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/gnt-lab-boot
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
"""),
    "/etc/fstab": (0o644, "/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1\n"),
    "/etc/hostname": (0o644, "localhost\n"),
    "/etc/default/libvirtd": (0o644, _LIBVIRTD_DEFAULT),
    "/etc/initramfs-tools/conf.d/gnt-lab": (0o644, "MODULES=list\nCOMPRESS=zstd\n"),
    "/etc/initramfs-tools/modules": (0o644, "virtio_pci\nvirtio_blk\next4\n"),
    "/etc/dpkg/dpkg.cfg.d/gnt-lab-nodoc": (0o644, _DPKG_NODOC),
    "/usr/sbin/policy-rc.d": (0o755, _POLICY_RC),
}
#: Units enabled / masked in the image (masked: timers and services a lab node never needs,
#: which only cost boot time under TCG).
ENABLE_UNITS = ("gnt-lab-boot.service", "ssh.service", "libvirtd.service",
                "libvirtd-tcp.socket")
MASK_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
              "e2scrub_reap.service", "fstrim.timer", "dpkg-db-backup.timer",
              "libvirt-guests.service", "getty@tty1.service", "systemd-timesyncd.service",
              "drbd.service")


class ImageError(RuntimeError):
    """The guest image cannot be built or found; the message says why."""


@dataclass(frozen=True)
class GuestImage:
    """A built node image in the cache."""

    dir: Path
    manifest: dict[str, Any]

    @property
    def root(self) -> Path:
        """Raw ext4 root file system (use it as the read-only backing file of overlays)."""
        return self.dir / "root.img"

    @property
    def kernel(self) -> Path:
        """The cloud kernel (``-kernel``)."""
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        """Its initramfs (``-initrd``)."""
        return self.dir / "initrd.img"


# --- inputs ----------------------------------------------------------------------------------
def host_mirrors(sources: Path = Path("/etc/apt")) -> dict[str, str]:
    """Suite -> mirror URI of the host's Debian apt sources (one-line and deb822 formats)."""
    found: dict[str, str] = {}
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*.list"))]
    for path in files:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    found.setdefault(words[2], words[1])
    for path in sorted((sources / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            for stanza in re.split(r"\n\s*\n", path.read_text()):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M))
                if "deb" not in fields.get("Types", "").split() or \
                        fields.get("Enabled", "yes").strip() == "no":
                    continue
                for suite in fields.get("Suites", "").split():
                    found.setdefault(suite, fields.get("URIs", "").split()[0])
    return {suite: uri.rstrip("/") for suite, uri in found.items()
            if suite == SUITE or suite.startswith(f"{SUITE}-")}


def inputs(mirrors: dict[str, str] | None = None) -> dict[str, Any]:
    """Everything the image depends on; its hash names the cached image."""
    mirrors = host_mirrors() if mirrors is None else mirrors
    if SUITE not in mirrors:
        raise ImageError(f"no apt source for Debian {SUITE} in /etc/apt/sources.list(.d)")
    return {"build_version": BUILD_VERSION, "suite": SUITE, "mirrors": dict(sorted(mirrors.items())),
            "packages": sorted(PACKAGES), "files": IMAGE_FILES, "enable": ENABLE_UNITS,
            "mask": MASK_UNITS, "root_size": ROOT_SIZE}


def input_key(values: dict[str, Any]) -> str:
    """Short hash of the inputs (the name of the image's cache directory)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


# --- cache -----------------------------------------------------------------------------------
def check_private_dir(path: Path) -> None:
    """Make ``path`` (root-owned, 0700) if needed; refuse it, or a parent, writable by others."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o077:
        raise ImageError(f"{path} must be a root-owned directory with mode 0700 "
                         f"(is {stat.filemode(st.st_mode)} uid {st.st_uid})")
    for parent in path.parents:
        pst = parent.stat()
        if pst.st_uid != 0 or pst.st_mode & 0o022:
            raise ImageError(f"{parent} (parent of the image cache) is writable by others")


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """Hold the cache's build lock (one builder at a time)."""
    with open(cache / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def cached_image(cache: Path = DEFAULT_CACHE, key: str | None = None) -> GuestImage | None:
    """The complete cached image for ``key`` (default: today's inputs), or None."""
    key = key or input_key(inputs())
    folder = cache / key
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    image = GuestImage(folder, manifest)
    if all(p.is_file() for p in (image.root, image.kernel, image.initrd)):
        return image
    return None


def ensure_image(cache: Path = DEFAULT_CACHE, *, force: bool = False,
                 log: Any = None) -> GuestImage:
    """The cached image for today's inputs, built first if missing (or if ``force``)."""
    if os.geteuid() != 0:
        raise ImageError("building the guest image needs root (debootstrap, chroot)")
    check_private_dir(cache)
    values = inputs()
    key = input_key(values)
    with _locked(cache):
        image = None if force else cached_image(cache, key)
        if image is not None:
            return image
        return _build(cache, key, values, log or (lambda msg: print(msg, file=sys.stderr)))


# --- build -----------------------------------------------------------------------------------
def _run(argv: list[str], log_file: Path, *, env: dict[str, str] | None = None,
         input_text: str | None = None) -> None:
    """Run a build step with its output appended to the build log; ImageError on failure."""
    with open(log_file, "a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, text=True,
                              input=input_text, timeout=BUILD_TIMEOUT, check=False)
    if proc.returncode != 0:
        tail = " | ".join(log_file.read_text(errors="replace").strip().splitlines()[-8:])
        raise ImageError(f"{argv[0]} failed ({proc.returncode}); see {log_file}: {tail}")


def _sources_list(mirrors: dict[str, str]) -> str:
    lines = [f"deb {uri} {suite} main" for suite, uri in sorted(mirrors.items())]
    return "# gnt.cluster lab guest: the build host's mirrors\n" + "\n".join(lines) + "\n"


def _chroot_script(packages: tuple[str, ...]) -> str:
    """Shell run in a private mount namespace: package installation and unit set-up."""
    return f"""set -eu
root=$1
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t devpts devpts "$root/dev/pts" 2>/dev/null || true
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \\
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
chroot "$root" apt-get -q update
chroot "$root" apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \\
  install {' '.join(packages)}
chroot "$root" apt-get clean
chroot "$root" systemctl enable {' '.join(ENABLE_UNITS)}
chroot "$root" systemctl mask {' '.join(MASK_UNITS)}
umount "$root/dev/pts" 2>/dev/null || true
umount "$root/sys" "$root/proc"
"""


def _write_files(rootfs: Path, files: dict[str, tuple[int, str]]) -> None:
    for path, (mode, text) in files.items():
        target = rootfs / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)


def _build(cache: Path, key: str, values: dict[str, Any], log: Any) -> GuestImage:
    """Build the image for ``key`` in a private temporary directory, then move it in place."""
    missing = [t for t in ("debootstrap", "mke2fs", "chroot", "unshare") if not shutil.which(t)]
    if missing:
        raise ImageError(f"missing tools: {', '.join(missing)} (apt: debootstrap e2fsprogs "
                         "coreutils util-linux)")
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    log_file = cache / "build.log"
    log_file.write_text(f"# gnt.cluster lab guest image {key}\n")
    log(f"guest image: building {key} in {work} (log {log_file}) ...")
    try:
        rootfs = work / "rootfs"
        mirrors = values["mirrors"]
        _run(["debootstrap", "--variant=minbase", "--components=main", SUITE, str(rootfs),
              mirrors[SUITE]], log_file)
        t_boot = time.monotonic() - t0
        (rootfs / "etc/apt/sources.list").write_text(_sources_list(mirrors))
        _write_files(rootfs, IMAGE_FILES)
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-s", str(rootfs)],
             log_file, input_text=_chroot_script(PACKAGES))
        t_pkgs = time.monotonic() - t0
        _finish_rootfs(rootfs)
        kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise ImageError("no kernel in the image's /boot")
        version = kernels[-1].name.removeprefix("vmlinuz-")
        shutil.copy2(kernels[-1], work / "vmlinuz")
        shutil.copy2(rootfs / "boot" / f"initrd.img-{version}", work / "initrd.img")
        _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "gntroot", "-d", str(rootfs),
              str(work / "root.img"), ROOT_SIZE], log_file)
        shutil.rmtree(rootfs)
        seconds = time.monotonic() - t0
        manifest = {"key": key, "inputs": values, "kernel_version": version,
                    "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "build_seconds": round(seconds, 1), "debootstrap_seconds": round(t_boot, 1),
                    "packages_seconds": round(t_pkgs - t_boot, 1)}
        (work / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        final = cache / key
        if final.exists():
            shutil.rmtree(final)
        work.rename(final)
        final.chmod(0o700)
    except BaseException:
        _remove_tree(work)
        raise
    for old in cache.iterdir():     # earlier images and leftovers of interrupted builds
        if old.is_dir() and old.name != key:
            _remove_tree(old)
    log(f"guest image: built {key} (kernel {version}) in {seconds:.0f} s "
        f"(debootstrap {t_boot:.0f} s, packages {t_pkgs - t_boot:.0f} s, "
        f"file system {seconds - t_pkgs:.0f} s)")
    return GuestImage(final, manifest)


def _finish_rootfs(rootfs: Path) -> None:
    """Make the tree generic: no host keys, no machine id, no build-only policy."""
    for key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (rootfs / "etc/machine-id").write_text("")       # systemd.machine_id= on the command line
    with contextlib.suppress(FileNotFoundError):
        (rootfs / "var/lib/dbus/machine-id").unlink()
    (rootfs / "usr/sbin/policy-rc.d").unlink()
    for sub in ("var/cache/apt", "var/lib/apt/lists"):
        for entry in (rootfs / sub).glob("*"):
            if entry.is_file() and entry.name != "lock":
                entry.unlink()


def _remove_tree(path: Path) -> None:
    """Remove a build directory; refuse if anything is still mounted below it."""
    mounts = Path("/proc/self/mountinfo").read_text()
    if f" {path}/" in mounts:
        raise ImageError(f"file systems are still mounted below {path}; not removing it")
    shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="The lab's guest-node image (docs/lab.md)")
    parser.add_argument("command", choices=("build", "show"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"cache directory (default {DEFAULT_CACHE})")
    parser.add_argument("--force", action="store_true", help="build even if cached")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            image = cached_image(args.cache)
            if image is None:
                print(f"no guest image for today's inputs ({input_key(inputs())}) in {args.cache}")
                return 1
        else:
            t0 = time.monotonic()
            image = ensure_image(args.cache, force=args.force)
            took = time.monotonic() - t0
            if took < image.manifest.get("build_seconds", 0):
                print(f"guest image: cached ({took:.2f} s; built in "
                      f"{image.manifest['build_seconds']:.0f} s on {image.manifest['built']})")
    except ImageError as exc:
        print(f"guestimage: {exc}", file=sys.stderr)
        return 1
    man = image.manifest
    print(f"{image.dir}: kernel {man['kernel_version']}, built {man['built']} in "
          f"{man['build_seconds']:.0f} s\n  root {image.root}\n  kernel {image.kernel}\n"
          f"  initrd {image.initrd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

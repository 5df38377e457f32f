#!/usr/bin/env bash
# Idempotent set-up of this machine as a gnt.cluster node and controller (Debian 12, as root).
#   scripts/setup.sh          runtime: apt packages, libvirt, venv, collection link, guest image
#   scripts/setup.sh --test   the same plus the test and lint tools
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${GNT_VENV:-$repo/.venv}"
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
log() { printf '[setup] %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "setup.sh must run as root" >&2; exit 1; }

apt_packages=(
  qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-daemon libvirt-daemon-driver-qemu
  libvirt-clients libvirt-dev pkg-config gcc python3-dev python3-venv
  openssh-server openssh-client iproute2 procps
  busybox-static cpio syslinux syslinux-common extlinux mtools dosfstools fdisk
  gzip zstd lzop python3-libvirt python3-jinja2 tini
)
# Test-only packages: Debian's own Ganeti OS definition (run unmodified by the OS
# interface tests), Ganeti's htools (hail, the reference iallocator, run by the
# iallocator compatibility tests), the shell linter for the OS scripts and Debian's
# Ganeti RAPI client (run unmodified against gnt-rapi); debootstrap builds the node image
# of the lab's guest nodes (tests/lab/guestimage.py; LVM and DRBD run in those guests).
test_packages=(ganeti-os-noop ganeti-htools shellcheck python3-ganeti-rapi debootstrap)
missing=()
wanted=("${apt_packages[@]}")
[ $want_test = 1 ] && wanted+=("${test_packages[@]}")
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

# libvirtd refuses to start without these, even with user="root" in qemu.conf.
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd --system -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt /run/libvirt

# QEMU runs as root without a security driver: disks live under each cluster's own GNT_ROOT.
# stdio_handler=file lets the serial console log be written without virtlogd.
qemu_conf=/etc/libvirt/qemu.conf
set_qemu() {
  local key=$1 value=$2
  if grep -qE "^${key} *=" "$qemu_conf"; then
    sed -i -E "s|^${key} *=.*|${key} = ${value}|" "$qemu_conf"
  else
    echo "${key} = ${value}" >>"$qemu_conf"
  fi
}
set_qemu user '"root"'
set_qemu group '"root"'
set_qemu dynamic_ownership 0
set_qemu remember_owner 0
set_qemu security_driver '"none"'
set_qemu stdio_handler '"file"'

if ! pgrep -x virtlogd >/dev/null; then
  log "starting virtlogd"
  virtlogd -d
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
  # Under tini as a child subreaper: QEMU processes (double-forked by libvirtd) become its
  # children and are reaped at once. Without it they go to PID 1, which on some machines reaps
  # late, and libvirt waits for that in every destroy/shutdown (1.4 s here instead of 0.2 s).
  log "starting libvirtd (under tini -s)"
  setsid tini -s -- libvirtd </dev/null >>/var/log/libvirt/libvirtd-foreground.log 2>&1 &
  for _ in $(seq 1 50); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.2
  done
  virsh -c qemu:///system version >/dev/null 2>&1 || { echo "libvirtd did not come up" >&2; exit 1; }
fi
log "libvirt answers on qemu:///system"

if [ ! -x "$venv/bin/python" ]; then
  log "creating venv $venv"
  python3 -m venv "$venv"
fi
extra=""
[ $want_test = 1 ] && extra="[test]"
stamp="$venv/.gnt-installed$extra"
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ]; then
  log "installing Python packages into $venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e "$repo$extra"
  touch "$stamp"
else
  log "Python packages present"
fi
# The package is installed editable, so nothing byte-compiled it: do it now (as a regular
# install would), or every gnt-* command compiles its modules again where the environment
# sets PYTHONDONTWRITEBYTECODE (0.1 s of each command's start).
"$venv/bin/python" -m compileall -q "$repo/runner/gnt" "$repo/plugins"

# The older ansible-core lines the collection claims, each in a venv of its own in a
# root-owned cache, for their ansible-test sanity runs (tests/sanity/ansible_versions.py).
if [ $want_test = 1 ]; then
  "$venv/bin/python" "$repo/tests/sanity/ansible_versions.py" install
fi

# Ansible finds the collection on its default path; the coordinator links its own copy per root.
coll_dir=/usr/share/ansible/collections/ansible_collections/gnt
mkdir -p "$coll_dir"
ln -sfn "$repo" "$coll_dir/cluster"
log "collection gnt.cluster linked at $coll_dir/cluster"

# Pre-build the bundled guest image so the first instance add does not wait for it.
builder="$repo/roles/node_prepare/files/os/tinylinux/build-image"
if [ -x "$builder" ]; then
  "$builder" >/dev/null
  log "tinylinux guest image ready"
fi

# The lab's guest-node image (Debian 12 + cloud kernel, LVM, DRBD; cached, rebuilt when its
# package list or build script changes): tests/lab/test_guest_nodes.py boots it.
if [ $want_test = 1 ]; then
  "$venv/bin/python" "$repo/tests/lab/guestimage.py" build | sed 's/^/[setup] /'
fi
log "done"

#!/usr/bin/env bash
# The main job on the embedded default: a one-node cluster on this machine running a real VM.
# Sets the machine up (idempotent), then: init -> add -> list -> console -> shutdown ->
# startup -> backup export (running) -> import under a new name (boots) -> remove -> destroy,
# printing each command before running it.
# With --nodes N (N >= 2): the multi-node variant instead (scripts/demo-multinode.sh).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = "--nodes" ]; then
  exec bash "$repo/scripts/demo-multinode.sh" "${2:-3}"
fi
bash "$repo/scripts/setup.sh"

export GNT_ROOT="${GNT_ROOT:-/var/lib/gnt-demo}"
export PATH="$repo/.venv/bin:$PATH"
cluster="${GNT_DEMO_CLUSTER:-cluster.demo.example}"
instance="${GNT_DEMO_INSTANCE:-vm1.demo.example}"

run() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  "$@"
}

if [ -f "$GNT_ROOT/var/lib/gnt/config.data" ]; then
  echo "A demo cluster from an earlier run exists under $GNT_ROOT: removing it first"
  gnt-instance remove -f "$instance" >/dev/null 2>&1 || true
  gnt-instance remove -f "${GNT_DEMO_COPY:-vm2.demo.example}" >/dev/null 2>&1 || true
  gnt-cluster destroy --yes-do-it >/dev/null 2>&1 || true
fi

echo "GNT_ROOT=$GNT_ROOT (all cluster state lives under it)"
run gnt-cluster init --enabled-disk-templates=file,diskless -H kvm:accel=tcg "$cluster"
run gnt-cluster info
run gnt-node list
run gnt-os list
# The demo's instance names are in no hosts file: as in Ganeti, an add (or import) of a name
# that does not resolve needs --no-name-check (which also skips the IP-in-use check).
run gnt-instance add --no-name-check -o tinylinux -t file --disk 0:size=64M -B memory=128M "$instance"
run gnt-instance list
echo "(waiting for the guest to print its boot marker on the serial console)"
for _ in $(seq 1 60); do
  gnt-instance console "$instance" 2>/dev/null | grep -q "gnt-tinylinux: booted" && break
  sleep 0.5
done
run gnt-instance console "$instance"
run gnt-instance shutdown --timeout=30 "$instance"
run gnt-instance list -o name,status,admin_state,oper_ram
run gnt-instance startup "$instance"
run gnt-instance list
node=$(gnt-node list --no-headers -o name | head -n 1)
copy="${GNT_DEMO_COPY:-vm2.demo.example}"
run gnt-backup export -n "$node" --noshutdown --compress=zstd "$instance"
run gnt-backup list
run gnt-backup import --no-name-check -n "$node" --net 0:mac=generate "$copy"
echo "(waiting for the imported guest to boot under its new name)"
for _ in $(seq 1 60); do
  gnt-instance console "$copy" 2>/dev/null | grep -q "gnt-tinylinux: booted $copy" && break
  sleep 0.5
done
gnt-instance console "$copy" | grep "gnt-tinylinux: booted" || true
run gnt-instance list
run gnt-instance remove -f "$copy"
run gnt-backup remove "$instance"
run gnt-instance remove -f "$instance"
run gnt-job list
run gnt-cluster verify
run gnt-cluster destroy --yes-do-it
printf '\nDemo finished: the cluster under %s was created, ran a VM, and was destroyed.\n' "$GNT_ROOT"

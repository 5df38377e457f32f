#!/usr/bin/env bash
# The multi-node main job: a lab of N nodes on this machine (tests/lab: network namespaces with
# their own sshd and libvirtd, GNT_ROOT and host name), a cluster on them, and a real VM that is
# placed by the allocator, live-migrated, failed over, while the master role moves and back.
# Every gnt-* command runs inside a node over SSH, as an operator would type it there.
# Usage: bash scripts/demo-multinode.sh [N]   (default 3; lab slot from $GNT_LAB_SLOT, else 0)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n="${1:-3}"
if [ "$n" -lt 2 ]; then
  echo "the multi-node demo needs at least 2 nodes" >&2
  exit 2
fi
bash "$repo/scripts/setup.sh"
py="$repo/.venv/bin/python"
slot="${GNT_LAB_SLOT:-0}"
dir="/tmp/gntdemo$slot"
instance=inst1
second=node2
third=node$n

cleanup() {
  "$py" "$repo/tests/lab/lab.py" down --dir "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

on() {
  local node=$1
  shift
  printf '\n\033[1m[%s]$ %s\033[0m\n' "$node" "$*"
  ssh -F "$dir/ssh_config" "$node" "$@"
}

wait_console() {  # node marker
  for _ in $(seq 1 240); do
    grep -qa "$2" "$dir/$1/root/var/log/gnt/console/$instance.log" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "the guest did not print '$2' on $1" >&2
  return 1
}

"$py" "$repo/tests/lab/lab.py" down --dir "$dir" >/dev/null 2>&1 || true
"$py" "$repo/tests/lab/lab.py" up "$n" --dir "$dir" --slot "$slot"
on node1 gnt-cluster init --master-netdev eth0 \
  --node-parameters "'migration_uri=qemu+tcp://{address}/system'" cluster.lab.example
for i in $(seq 2 "$n"); do
  on node1 gnt-node add "node$i"
done
on node1 gnt-node list -o name,role,pip,mfree,pinst_cnt
on node1 gnt-instance add --no-name-check -o tinylinux -t sharedfile --disk 0:size=64M -B memory=128M $instance
on node1 gnt-instance list -o name,pnode,status
primary=$(ssh -F "$dir/ssh_config" node1 gnt-instance list --no-headers -o pnode $instance)
primary=${primary%%.*}
target=$second
[ "$primary" = "$second" ] && target=node1
echo "(waiting for the guest to boot on $primary)"
wait_console "$primary" "gnt-tinylinux: booted"
on node1 gnt-instance migrate -f -n "$target" $instance
on node1 gnt-instance list -o name,pnode,status,oper_ram
on "$target" virsh -c qemu:///system list
failover_to=$third
[ "$failover_to" = "$target" ] && failover_to=node1
on node1 gnt-instance failover -f -n "$failover_to" $instance
wait_console "$failover_to" "gnt-tinylinux: booted"
on node1 gnt-instance list -o name,pnode,status
on "$second" gnt-cluster master-failover
on "$third" gnt-cluster getmaster
on "$second" gnt-node list -o name,role
on node1 gnt-cluster master-failover
on node1 gnt-cluster verify
on node1 gnt-instance remove -f $instance
printf '\nMulti-node demo finished: %s nodes, one VM placed, live-migrated and failed over,\n' "$n"
printf 'the master role moved to %s and back. The lab is taken down now.\n' "$second"

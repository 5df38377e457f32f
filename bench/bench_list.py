"""`gnt-instance list` with 1000 instances in the config (config-only fields), and with live
fields (status, oper_ram) answered by this node's libvirt. Prints figures."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from _cluster import BIN, bench_cluster, env_for, timed

COUNT = 1000


def add_instances(root: Path, count: int = COUNT) -> None:
    """Write ``count`` diskless instances straight into config.data (daemon stopped)."""
    import uuid

    path = root / "var/lib/gnt/config.data"
    data = json.loads(path.read_text())
    node = data["cluster"]["master_node"]
    now = time.time()
    for i in range(count):
        uid = str(uuid.uuid4())
        data["instances"][uid] = {
            "uuid": uid, "name": f"inst{i:04d}.bench.example", "primary_node": node,
            "os": "blank", "hypervisor": "kvm", "hvparams": {}, "beparams": {}, "osparams": {},
            "admin_state": "down", "disk_template": "diskless", "disks": [],
            "nics": [{"uuid": str(uuid.uuid4()), "mac": f"aa:00:01:{i >> 8:02x}:{i & 255:02x}:00",
                      "ip": None, "nicparams": {}}],
            "tags": [], "serial_no": 1, "ctime": now, "mtime": now}
    data["serial_no"] += 1
    path.write_text(json.dumps(data))


def add_instances_count(count: int):  # noqa: ANN201 - a prepare hook of bench_cluster
    """A ``prepare`` hook adding ``count`` instances."""
    return lambda root: add_instances(root, count)


def main() -> None:
    with bench_cluster("list", prepare=add_instances) as root:
        env = env_for(root)
        cmd = str(BIN / "gnt-instance")
        static = [timed([cmd, "list", "-o", "name,os,pnode,be/maxmem,admin_state"], env)
                  for _unused in range(10)]
        live = [timed([cmd, "list"], env) for _unused in range(10)]
        print(f"gnt-instance list, {COUNT} instances, config-only fields:"
              f" median {statistics.median(static):.3f} s")
        print(f"gnt-instance list, {COUNT} instances, default fields incl. live status/oper_ram"
              f" (one node, libvirt): median {statistics.median(live):.3f} s")
        print("(Ganeti 3.0.2: gnt-instance list with 100 instances = 0.24 s)")


if __name__ == "__main__":
    main()

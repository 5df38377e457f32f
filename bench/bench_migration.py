"""Live migration on the multi-node lab (tests/lab): a booted 512 MiB tinylinux guest (TCG) on
the shared storage, moved node1 <-> node2 back and forth, through our primitive
(module_utils/libvirt_migrate.migrate, the code of gnt.cluster.domain_migrate) and through
``virsh migrate --live --p2p --persistent --undefinesource --unsafe``; migration time, libvirt's
measured downtime and the ratio. Then the whole role instance_migrate through ansible-playbook
from inside the source node (what the coordinator pays per migration).

Usage: ``.venv/bin/python bench/bench_migration.py [ROUNDS]`` as root; the lab runs in slot
$GNT_LAB_SLOT (else 0) in a temporary directory and is removed afterwards.
"""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import labconf  # noqa: E402
from lab import Lab  # noqa: E402
from labansible import run_role  # noqa: E402

from gnt.core.collection import load_module_util  # noqa: E402

IMAGE = Path("/var/cache/gnt/tinylinux/tinylinux.img")
MEMORY_MIB = 512


def domain_xml(name: str, disk: str, console: str) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name><memory unit='MiB'>{MEMORY_MIB}</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/>
      <source file='{disk}'/><target dev='vda' bus='virtio'/></disk>
    <serial type='file'><source path='{console}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"""


def virsh_migrate(name: str, src: str, dst: str) -> tuple[float, int | None]:
    t0 = time.monotonic()
    subprocess.run(["virsh", "-c", src, "migrate", "--live", "--p2p", "--persistent",
                    "--undefinesource", "--unsafe", name, dst],
                   check=True, capture_output=True, text=True)
    took = time.monotonic() - t0
    info = subprocess.run(["virsh", "-c", dst, "domjobinfo", "--completed", name],
                          check=False, capture_output=True, text=True).stdout
    match = re.search(r"Total downtime:\s+(\d+)\s*ms", info)
    return took, int(match.group(1)) if match else None


def module_migrate(mig, libvirt, name: str, src: str, dst: str) -> tuple[float, int | None]:
    t0 = time.monotonic()
    conn = libvirt.open(src)
    try:
        result = mig.migrate(conn, name, dst, live=True, unsafe=True)
    finally:
        conn.close()
    assert result["state"] == "running" and result["source_state"] == "absent", result
    return time.monotonic() - t0, result["downtime_ms"]


def summary(label: str, runs: list[tuple[float, int | None]]) -> float:
    times = [run[0] for run in runs]
    downs = [run[1] for run in runs if run[1] is not None]
    med = statistics.median(times)
    print(f"  {label:<34} time median {med:.2f} s (min {min(times):.2f}, max {max(times):.2f})"
          f"   downtime median {statistics.median(downs) if downs else float('nan'):.0f} ms"
          f" (n={len(runs)})")
    return med


def main() -> None:
    import libvirt
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    if not IMAGE.is_file():
        raise SystemExit(f"{IMAGE} is missing (tinylinux build-image)")
    mig = load_module_util("libvirt_migrate")
    lab = Lab(tempfile.mkdtemp(prefix="gntbench-", dir="/tmp"))
    try:
        node1, node2 = lab.up(2)
        name = "bench-mig"
        console = lab.shared_dir / f"{name}.log"
        shutil.copyfile(IMAGE, lab.shared_dir / f"{name}.img")
        disk = f"{node1.gnt_root}/{labconf.SHARED_STORAGE_SUBDIR}/{name}.img"
        conn = libvirt.open(node1.libvirt_uri)
        conn.defineXML(domain_xml(name, disk, str(console))).create()
        conn.close()
        deadline = time.monotonic() + 240
        while b"gnt-tinylinux: booted" not in (console.read_bytes() if console.exists()
                                               else b""):
            if time.monotonic() > deadline:
                raise SystemExit("tinylinux did not boot")
            time.sleep(0.2)
        a, b = node1.libvirt_uri, node2.libvirt_uri
        ours: list[tuple[float, int | None]] = []
        theirs: list[tuple[float, int | None]] = []
        for _round in range(rounds):
            ours.append(module_migrate(mig, libvirt, name, a, b))
            ours.append(module_migrate(mig, libvirt, name, b, a))
            theirs.append(virsh_migrate(name, a, b))
            theirs.append(virsh_migrate(name, b, a))
        print(f"live migration, booted tinylinux {MEMORY_MIB} MiB (TCG), shared storage, "
              f"lab slot {lab.slot}, {rounds} rounds x 2 directions:")
        mine = summary("gnt libvirt_migrate.migrate()", ours)
        ref = summary("virsh migrate --live --p2p", theirs)
        print(f"  ratio ours / virsh: {mine / ref:.2f}")
        role_runs = []
        gnt_instance = {"name": name}
        for src, dst in ((node1, node2), (node2, node1)):
            t0 = time.monotonic()
            run = run_role(lab, src.name, "instance_migrate", {
                "gnt_node": {"name": src.fqdn, "libvirt_uri": src.local_uri},
                "gnt_instance": gnt_instance,
                "gnt_migration": {"target_uri": dst.libvirt_uri, "live": True,
                                  "unsafe": True}})
            if not run.ok:
                raise SystemExit(run.stdout)
            res = run.facts["gnt_migration_result"]
            role_runs.append((time.monotonic() - t0, res["duration_s"], res["downtime_ms"]))
        for total, dur, down in role_runs:
            print(f"  role instance_migrate via ansible-playbook on the source: {total:.2f} s "
                  f"total (migration {dur:.2f} s, downtime {down} ms)")
    finally:
        lab.down()
        shutil.rmtree(lab.dir, ignore_errors=True)


if __name__ == "__main__":
    main()

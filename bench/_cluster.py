"""Shared set-up for benchmarks: a throwaway cluster root with a running master daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent


def env_for(root: Path) -> dict[str, str]:
    return dict(os.environ, GNT_ROOT=str(root),
                PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


@contextmanager
def bench_cluster(name: str, prepare=None) -> Iterator[Path]:
    """Init a one-node cluster in a temp root (optionally ``prepare(root)`` with the daemon
    stopped), yield the root, then destroy everything."""
    root = Path(tempfile.mkdtemp(prefix=f"gnt-bench-{name}-"))
    env = env_for(root)
    os.environ["GNT_ROOT"] = str(root)
    subprocess.run([BIN / "gnt-cluster", "init", "--enabled-disk-templates=file,diskless",
                    f"{name}.bench.example"], env=env, check=True, capture_output=True)
    try:
        if prepare is not None:
            subprocess.run([BIN / "gnt-masterd", "stop"], env=env, check=True,
                           capture_output=True)
            prepare(root)
            subprocess.run([BIN / "gnt-masterd", "start"], env=env, check=True,
                           capture_output=True)
        yield root
    finally:
        subprocess.run([BIN / "gnt-masterd", "stop"], env=env, capture_output=True, check=False)
        config = root / "var/lib/gnt/config.data"
        if config.exists():
            import json
            data = json.loads(config.read_text())
            data["instances"], data["disks"] = {}, {}
            config.write_text(json.dumps(data))
        subprocess.run([BIN / "gnt-cluster", "destroy", "--yes-do-it"], env=env,
                       capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - start

"""Remote API: `GET /2/instances?bulk=1` with 100 and 1000 instances (median, p99) against the
same query made straight on the master daemon's socket (the floor, same run); 100 concurrent
clients (requests/s, errors); a config-only job's submit-to-done latency through RAPI against
the socket API. Prints figures; run: .venv/bin/python bench/bench_rapi.py"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import statistics
import threading
import time
from pathlib import Path

from _cluster import bench_cluster
from bench_list import add_instances_count

from gnt.client.connection import Client
from gnt.client.jobwait import wait_for_job
from gnt.rapi.resources import INSTANCE_FIELDS

RUNS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Https:
    """One keep-alive HTTPS connection to gnt-rapi, trusting the cluster's certificate."""

    def __init__(self, port: int, cafile: Path, auth: str | None = None) -> None:
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.port = port
        self.headers = {"Authorization": auth} if auth else {}
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, context=self.context,
                                                timeout=60)

    def call(self, method: str, path: str) -> tuple[int, object]:
        self.conn.request(method, path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, json.loads(body) if body else None


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def bulk_list(count: int) -> None:
    port = free_port()
    os.environ["GNT_RAPI_PORT"] = str(port)
    with bench_cluster(f"rapi{count}", prepare=add_instances_count(count)) as root:
        wait_listening(port)
        https = Https(port, root / "var/lib/gnt/rapi.pem")
        status, rows = https.call("GET", "/2/instances?bulk=1")
        assert status == 200 and isinstance(rows, list) and len(rows) == count, status
        ours = []
        for _unused in range(RUNS):
            start = time.perf_counter()
            https.call("GET", "/2/instances?bulk=1")
            ours.append(time.perf_counter() - start)
        floor = []
        with Client() as client:
            for _unused in range(RUNS):
                start = time.perf_counter()
                client.call("query", what="instance", fields=INSTANCE_FIELDS, names=[])
                floor.append(time.perf_counter() - start)
        med, med_floor = statistics.median(ours), statistics.median(floor)
        print(f"GET /2/instances?bulk=1, {count} instances: median {med:.3f} s, p99"
              f" {percentile(ours, 0.99):.3f} s; floor (same query on the daemon socket)"
              f" {med_floor:.3f} s; ratio {med / med_floor:.1f}x")
        if count == 100:
            concurrent(port, root / "var/lib/gnt/rapi.pem")
            users = root / "var/lib/gnt/rapi/users"
            users.parent.mkdir(mode=0o700, exist_ok=True)
            users.write_text("bench benchpw write\n")
            token = base64.b64encode(b"bench:benchpw").decode()
            job_latency(Https(port, root / "var/lib/gnt/rapi.pem", f"Basic {token}"))


def concurrent(port: int, cafile: Path, clients: int = 100, each: int = 5) -> None:
    errors: list[str] = []
    done = []

    def client_run() -> None:
        https = Https(port, cafile)
        for _unused in range(each):
            try:
                status, _body = https.call("GET", "/2/instances?bulk=1")
                if status != 200:
                    errors.append(str(status))
                else:
                    done.append(1)
            except (OSError, http.client.HTTPException) as err:
                errors.append(repr(err))
                https = Https(port, cafile)

    threads = [threading.Thread(target=client_run) for _unused in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - start
    print(f"{clients} concurrent clients x {each} bulk lists (100 instances):"
          f" {len(done) / took:.0f} requests/s, {len(errors)} errors"
          + (f" (first: {errors[0]})" if errors else ""))


def job_latency(https: Https) -> None:
    """A config-only job (cluster tag) submitted and followed to success."""
    ours, floor = [], []
    for index in range(RUNS):
        start = time.perf_counter()
        status, job = https.call("PUT", f"/2/tags?tag=bench:{index}")
        assert status == 200, job
        while True:
            _status, info = https.call("GET", f"/2/jobs/{job}")
            if isinstance(info, dict) and info["status"] in ("success", "error"):
                break
            time.sleep(0.002)
        ours.append(time.perf_counter() - start)
    with Client() as client:
        for index in range(RUNS):
            start = time.perf_counter()
            job_id = client.call("submit_job", ops=[{"OP_ID": "OP_TAGS_SET", "kind": "cluster",
                                                     "tags": [f"floor:{index}"]}])
            assert wait_for_job(client, job_id) == "success"
            floor.append(time.perf_counter() - start)
    med, med_floor = statistics.median(ours), statistics.median(floor)
    print(f"config-only job (cluster tag) submit-to-done through RAPI (polling): median"
          f" {med * 1000:.1f} ms; floor (socket API) {med_floor * 1000:.1f} ms; ratio"
          f" {med / med_floor:.1f}x")


def main() -> None:
    for count in (100, 1000):
        bulk_list(count)
    print("(Ganeti 3.0.2 on this kind of machine: GET /2/instances?bulk=1 with 100 instances"
          " = 0.14 s; target: 1000 in <= 0.14 s)")


if __name__ == "__main__":
    main()

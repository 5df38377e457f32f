"""Job queue throughput: `gnt-debug delay 0` submit-to-done latency, and 200 concurrent
no-op jobs (jobs/s). Prints figures; run: .venv/bin/python bench/bench_jobs.py"""

from __future__ import annotations

import statistics
import threading
import time

from _cluster import BIN, bench_cluster, env_for, timed

from gnt.client.connection import Client
from gnt.client.jobwait import wait_for_job
from gnt.core.errors import MasterNotRunning


def wait(client: Client, job_id: int) -> str:
    return wait_for_job(client, job_id)


def main() -> None:
    with bench_cluster("jobs") as root:
        env = env_for(root)
        cli = [timed([str(BIN / "gnt-debug"), "delay", "0"], env) for _unused in range(10)]
        print(f"gnt-debug delay 0 (CLI, process start included): median {statistics.median(cli):.3f} s,"
              f" min {min(cli):.3f} s over {len(cli)} runs")
        with Client() as client:
            lat = []
            for _unused in range(50):
                start = time.perf_counter()
                job = client.call("submit_job", ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0}])
                assert wait(client, job) == "success"
                lat.append(time.perf_counter() - start)
        print(f"OP_TEST_DELAY 0 submit-to-done (socket API): median {statistics.median(lat)*1000:.1f} ms,"
              f" p90 {sorted(lat)[int(len(lat)*0.9)]*1000:.1f} ms")

        count = 200
        ids: list[int] = []
        start = time.perf_counter()
        with Client() as client:
            for _unused in range(count):
                ids.append(client.call("submit_job",
                                       ops=[{"OP_ID": "OP_TEST_DELAY", "duration": 0}]))
        submitted = time.perf_counter() - start
        results: list[str] = []

        def follow(chunk: list[int]) -> None:
            with Client() as client:
                for _attempt in range(100):   # 8 connects at once can overflow the backlog
                    try:
                        client.call("ping")
                        break
                    except MasterNotRunning:
                        time.sleep(0.05)
                for job_id in chunk:
                    results.append(wait(client, job_id))
        threads = [threading.Thread(target=follow, args=(ids[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = time.perf_counter() - start
        assert results.count("success") == count, results
        print(f"{count} concurrent no-op jobs: submitted in {submitted:.2f} s, all done in"
              f" {total:.2f} s -> {count/total:.0f} jobs/s")
        print("(Ganeti 3.0.2 on this kind of machine: delay 0 = 0.50 s; 50 jobs = 14 s, 3.5 jobs/s)")


if __name__ == "__main__":
    main()

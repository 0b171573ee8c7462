"""Benchmark: does persisting a large emulated fleet (``--state``) stall readers?

An emulator with ``--state`` saves the whole world before it acknowledges a change. On a 10,000-instance
fleet that file is ~20 MB. Measured here, with the emulator in a separate process and the official SDK:
``ModifyDBInstanceSSL`` latency (it includes the save), and DescribeDBInstanceSSL latency in another thread
while the modifies run (a save that blocks the backend shows up as the readers' max). Usage::

    python benchmarks/bench_state.py [--instances 10000] [--modifies 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from alibabacloud_rds20140815 import models as rds

from benchmarks.bench_emulator import write_fleet
from rdsssl_reconcile.emulator import spawn_emulator_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--modifies", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-state-") as tmp:
        workdir = Path(tmp)
        fleet = write_fleet(workdir / "fleet.json", args.instances)
        state = workdir / "state.json"
        with spawn_emulator_process(
            fleet, state_file=state, restart_seconds=0.05, output_dir=workdir, startup_timeout=300
        ) as emu:
            writer, reader = emu.sdk_client(), emu.sdk_client()
            stop = threading.Event()
            reads: list[float] = []

            def read_loop() -> None:
                request = rds.DescribeDBInstanceSSLRequest(dbinstance_id="pgm-bench00001")
                while not stop.is_set():
                    started = time.perf_counter()
                    reader.describe_dbinstance_ssl(request)
                    reads.append((time.perf_counter() - started) * 1000)

            thread = threading.Thread(target=read_loop)
            thread.start()
            time.sleep(0.5)
            modifies = []
            for n in range(args.modifies):
                request = rds.ModifyDBInstanceSSLRequest(
                    dbinstance_id=f"pgm-bench{n + 2:05d}",
                    sslenabled=1,
                    catype="aliyun",
                    connection_string=f"pgm-bench{n + 2:05d}.pg.rds.aliyuncs.com",
                )
                started = time.perf_counter()
                writer.modify_dbinstance_ssl(request)
                modifies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.3)
            stop.set()
            thread.join()
            size_mb = state.stat().st_size / 1e6
    ordered = sorted(reads)
    print(f"fleet {args.instances:,} instances, state file {size_mb:.1f} MB")
    print(f"ModifyDBInstanceSSL ms: median {statistics.median(modifies):.1f}, max {max(modifies):.1f}")
    print(
        f"DescribeDBInstanceSSL meanwhile: {len(reads)} calls, median {statistics.median(ordered):.2f} ms, "
        f"p99 {ordered[int(len(ordered) * 0.99) - 1]:.2f} ms, max {ordered[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()

"""Benchmark: per-call cost of the emulator through the official SDK, and a 10,000-instance fleet.

The emulator runs in a separate process (``rdsssl-reconcile emulator serve``), as users run it, so client
and server do not share a GIL (reference §12). Measured:

(a) DescribeDBInstanceSSL through the SDK on one reused client: median / p95 / mean over ``--calls`` calls;
(b) a 10,000-instance fleet: paging through every instance with DescribeDBInstances (MaxResults=100 and
    PageSize=100), and DescribeDBInstanceSSL on random instances, compared with the same on a 10-instance
    fleet (no degradation = the same per-call cost).

Target (issue 2): at most 3 ms per call on loopback. Usage::

    python benchmarks/bench_emulator.py [--calls 2000] [--json benchmarks/results/emulator.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alibabacloud_rds20140815 import models as rds

from rdsssl_reconcile.emulator import spawn_emulator_process

REGION = "cn-hangzhou"


def write_fleet(path: Path, count: int, *, ssl_every: int = 100) -> Path:
    """JSON (fast to load) fleet; every ``ssl_every``-th instance has a cloud certificate."""
    instances: list[dict[str, Any]] = []
    for n in range(count):
        item: dict[str, Any] = {"id": f"pgm-bench{n:05d}", "region": REGION}
        if n % ssl_every == 0:
            item["ssl"] = {"enabled": True, "ca_type": "aliyun"}
        instances.append(item)
    path.write_text(json.dumps({"instances": instances}))
    return path


def timed(call: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "calls": len(samples),
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "max_ms": round(ordered[-1], 3),
    }


def bench_fleet(fleet: Path, count: int, calls: int, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with spawn_emulator_process(fleet, output_dir=workdir, startup_timeout=300) as emu:
        startup_s = time.perf_counter() - started
        client = emu.sdk_client()
        ids = [f"pgm-bench{n:05d}" for n in range(count)]
        rng = random.Random(1)

        def describe_random() -> None:
            body = client.describe_dbinstance_ssl(rds.DescribeDBInstanceSSLRequest(dbinstance_id=rng.choice(ids))).body
            assert body.sslenabled in ("on", "off")

        timed(describe_random, 100)  # warm-up: connection, imports, caches
        ssl_random = summary(timed(describe_random, calls))

        same = ids[0]
        ssl_same = summary(
            timed(lambda: client.describe_dbinstance_ssl(rds.DescribeDBInstanceSSLRequest(dbinstance_id=same)), calls)
        )

        seen, token, page_samples = 0, None, []
        paging_started = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            body = client.describe_dbinstances(
                rds.DescribeDBInstancesRequest(region_id=REGION, max_results=100, next_token=token)
            ).body
            page_samples.append((time.perf_counter() - t0) * 1000)
            seen += len(body.items.dbinstance)
            token = body.next_token
            if not token:
                break
        token_total_s = time.perf_counter() - paging_started
        assert seen == count, (seen, count)

        number, numbered, numbered_samples = 1, 0, []
        paging_started = time.perf_counter()
        while numbered < count:
            t0 = time.perf_counter()
            body = client.describe_dbinstances(
                rds.DescribeDBInstancesRequest(region_id=REGION, page_size=100, page_number=number)
            ).body
            numbered_samples.append((time.perf_counter() - t0) * 1000)
            numbered += len(body.items.dbinstance)
            number += 1
        page_total_s = time.perf_counter() - paging_started
        assert emu.stop() == 0
    return {
        "instances": count,
        "startup_s": round(startup_s, 2),
        "describe_ssl_random": ssl_random,
        "describe_ssl_same": ssl_same,
        "describe_instances_next_token": {**summary(page_samples), "total_s": round(token_total_s, 3)},
        "describe_instances_page_number": {**summary(numbered_samples), "total_s": round(page_total_s, 3)},
    }


def markdown(results: list[dict[str, Any]], machine: str) -> str:
    rows = [
        "| fleet | call | calls | median ms | p95 ms | mean ms | total s |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for key, label in (
            ("describe_ssl_same", "DescribeDBInstanceSSL, one instance"),
            ("describe_ssl_random", "DescribeDBInstanceSSL, random instances"),
            ("describe_instances_next_token", "DescribeDBInstances MaxResults=100 (all pages)"),
            ("describe_instances_page_number", "DescribeDBInstances PageSize=100 (all pages)"),
        ):
            s = result[key]
            total = s.get("total_s", "")
            rows.append(
                f"| {result['instances']:,} | {label} | {s['calls']} | {s['median_ms']} | {s['p95_ms']} "
                f"| {s['mean_ms']} | {total} |"
            )
    return f"{machine}\n\n" + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--big", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "emulator.json")
    args = parser.parse_args()
    machine = (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp:
        workdir = Path(tmp)
        results = []
        for count in (10, args.big):
            fleet = write_fleet(workdir / f"fleet-{count}.json", count)
            results.append(bench_fleet(fleet, count, args.calls, workdir))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    print(markdown(results, machine))
    small, big = results[0]["describe_ssl_random"]["median_ms"], results[1]["describe_ssl_random"]["median_ms"]
    print(f"\nDescribeDBInstanceSSL median: {small} ms (10 instances) vs {big} ms ({args.big:,} instances)")
    print(f"results written to {args.json}")


if __name__ == "__main__":
    main()

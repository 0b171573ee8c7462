"""Fixed costs of a 1-instance plan: when its first request reaches the emulator, and when it exits.

Target (issue 13, acceptance 3): a 1-instance plan's first request within 0.3 s of start where the SDK
allows it, and no slow interpreter exit; both reported against the bare interpreter start
(``python -c pass``) measured in the same run.

    python benchmarks/bench_startup.py [--runs 5]

The emulator runs in another process. Each run starts ``python -m rdsssl_reconcile plan SPECS`` and
takes its wall-clock start just before ``Popen``; the first request time is the emulator's call-log
``time`` of the run's first call (same machine, same clock); the total is the wall time until the
process has exited. Also measured: the vendor SDK's import alone, and the interpreter's exit with the
SDK loaded with and without ``gc.freeze()`` (what the CLI does before it exits), and the machine's speed
before and after (``benchmarks/machine.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from machine import reference_seconds

from rdsssl_reconcile.emulator.testing import spawn_emulator_process

RESULTS = Path(__file__).parent / "results"


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    started = time.time()
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return started, time.time() - started, completed.stdout


def exit_seconds(code: str) -> float:
    """Wall time from the script's last statement to the process being gone."""
    script = f"import time\n{code}\nprint(time.time(), flush=True)\n"
    _, _, out = timed([sys.executable, "-c", script])
    ended = time.time()
    return ended - float(out.strip().splitlines()[-1])


def spread(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        fleet = directory / "fleet.json"
        fleet.write_text(json.dumps({"instances": [{"id": "pgm-one", "region": "cn-hangzhou"}]}))
        specs = directory / "specs"
        specs.mkdir()
        (specs / "one.yaml").write_text(
            "instances:\n  - id: pgm-one\n    region: cn-hangzhou\n"
            "    ssl: {enabled: true, endpoints: [pgm-one.pg.rds.aliyuncs.com], certificate: {source: aliyun}}\n"
        )
        bare: list[float] = []
        first: list[float] = []
        total: list[float] = []
        with spawn_emulator_process(fleet, output_dir=directory) as emulator:
            env = {
                **os.environ,
                "RDSSSL_ENDPOINT": emulator.endpoint,
                "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.access_key_id,
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.access_key_secret,
                "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
                "HOME": str(directory / "home"),
            }
            machine_before = reference_seconds()
            for _ in range(args.runs):
                bare.append(timed([sys.executable, "-c", "pass"])[1])
                emulator.admin.clear_calls()
                started, seconds, _ = timed([sys.executable, "-m", "rdsssl_reconcile", "plan", str(specs)], env)
                calls = emulator.admin.calls()
                first.append(datetime.fromisoformat(calls[0]["time"]).timestamp() - started)
                total.append(seconds)
        imports = [
            float(timed([sys.executable, "-c", _IMPORT_ONLY])[2].strip().splitlines()[-1]) for _ in range(args.runs)
        ]
        exit_plain = [exit_seconds("import rdsssl_reconcile.cloud.sdk") for _ in range(args.runs)]
        exit_frozen = [exit_seconds("import rdsssl_reconcile.cloud.sdk, gc; gc.freeze()") for _ in range(args.runs)]
        machine_after = reference_seconds()
    result: dict[str, Any] = {
        "runs": args.runs,
        "bare_interpreter_seconds": spread(bare),
        "first_request_seconds": spread(first),
        "first_request_minus_bare_seconds": spread([f - b for f, b in zip(first, bare, strict=True)]),
        "total_seconds": spread(total),
        "sdk_import_seconds": spread(imports),
        "exit_with_sdk_seconds": spread(exit_plain),
        "exit_with_sdk_frozen_seconds": spread(exit_frozen),
        # benchmarks/machine.py just before and after: how fast the machine was (lower is faster)
        "machine_reference_seconds": [machine_before, machine_after],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    print("| figure | min | median | max |")
    print("|---|---:|---:|---:|")
    for name, values in result.items():
        if isinstance(values, dict):
            print(f"| {name} | {values['min']:.3f} s | {values['median']:.3f} s | {values['max']:.3f} s |")
    print(f"machine reference before / after: {machine_before} / {machine_after} s (benchmarks/machine.py)")
    verdict = "OK" if result["first_request_seconds"]["median"] <= 0.3 else "MISSED"
    print(f"{verdict}: first request {result['first_request_seconds']['median']:.3f} s after start (target 0.3 s)")


_IMPORT_ONLY = "import time\nstarted = time.perf_counter()\nimport rdsssl_reconcile.cloud.sdk\nprint(time.perf_counter() - started)\n"


if __name__ == "__main__":
    main()

"""``verify`` of 200 endpoints against loopback servers that speak the PostgreSQL SSLRequest handshake.

Issue 12, acceptance 5: the wall time and the parallelism of a verify of 200 endpoints. The servers run
in their own process (``tests/support/pg_tls_server.py``, 200 ports, one certificate for
``*.pg.rds.aliyuncs.com`` made at run time), the emulator in another (200 instances, each endpoint's port
one of the servers'), and ``verify`` in a third, exactly as users run it (``--format json``, one
``--resolve`` per endpoint), so no two share a GIL.

    python benchmarks/bench_verify.py [--endpoints 200] [--parallelism 1,8,16,32]

Reported per parallelism: the command's wall time (start-up, the SDK import and the API reads included),
the verify part as the report measures it (reads + probes), and the bound it should approach:
per-endpoint time x endpoints / parallelism, where the per-endpoint time is the mean of sequential probes
(TCP + SSLRequest + TLS handshake + the plain-startup connection) measured here first. Results go to
``benchmarks/results/verify.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rdsssl_reconcile.emulator.auth import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from rdsssl_reconcile.emulator.testing import spawn_emulator_process
from rdsssl_reconcile.pki.authority import CertificateAuthority
from rdsssl_reconcile.verify.model import Target
from rdsssl_reconcile.verify.probe import probe_endpoint

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]


def name(index: int) -> str:
    return f"pgm-bench{index:05d}.pg.rds.aliyuncs.com"


def write_material(directory: Path) -> tuple[Path, Path, str, str]:
    now = datetime.now(UTC)
    ca = CertificateAuthority.create("bench-verify-ca", now=now)
    issued = ca.issue_server_certificate(["*.pg.rds.aliyuncs.com"], now=now)
    cert, key = directory / "server.crt", directory / "server.key"
    cert.write_text(issued.cert_pem())
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(issued.key_pem())
    return cert, key, issued.cert_pem(), issued.key_pem()


def write_fleet_and_specs(directory: Path, ports: list[int], cert_pem: str, key_pem: str) -> tuple[Path, Path]:
    instances = []
    spec_lines = ["defaults:", "  region: cn-hangzhou", "instances:"]
    for index, port in enumerate(ports):
        instance_id = f"pgm-bench{index:05d}"
        instances.append(
            {
                "id": instance_id,
                "region": "cn-hangzhou",
                "endpoints": [{"host": name(index), "port": port}],
                "ssl": {
                    "enabled": True,
                    "ca_type": "custom",
                    "endpoints": [name(index)],
                    "server_cert": cert_pem,
                    "server_key": key_pem,
                },
            }
        )
        spec_lines += [
            f"  - id: {instance_id}",
            f"    ssl: {{enabled: true, endpoints: [{name(index)}], certificate: {{source: custom, "
            "cert: {file: ../server.crt}, key: {file: ../server.key}}}",
        ]
    fleet = directory / "fleet.json"
    fleet.write_text(json.dumps({"instances": instances}))
    specs = directory / "specs"
    specs.mkdir()
    (specs / "fleet.yaml").write_text("\n".join(spec_lines) + "\n")
    return fleet, specs


def sequential_probe_seconds(ports: list[int], samples: int) -> float:
    """Mean time of one endpoint's probe, one at a time (the per-endpoint cost the bound multiplies)."""
    timings = []
    for index, port in enumerate(ports[:samples]):
        started = time.perf_counter()
        result = probe_endpoint(Target(name(index), port, "127.0.0.1"), timeout=10)
        timings.append(time.perf_counter() - started)
        if result.failure is not None:
            sys.exit(f"probe of port {port} failed: {result.detail}")
    return sum(timings) / len(timings)


def verify_once(specs: Path, ports: list[int], parallelism: int, env: dict[str, str]) -> dict[str, Any]:
    resolves = [arg for i, port in enumerate(ports) for arg in ("--resolve", f"{name(i)}:{port}:127.0.0.1")]
    argv = [sys.executable, "-m", "rdsssl_reconcile", "verify", str(specs), "--format", "json"]
    argv += ["--probe-parallelism", str(parallelism), *resolves]
    started = time.perf_counter()
    completed = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"verify exited {completed.returncode}: {completed.stderr[-2000:]} {completed.stdout[-2000:]}")
    report = json.loads(completed.stdout)
    return {
        "parallelism": parallelism,
        "command_seconds": round(wall, 3),
        "verify_seconds": report["wall_seconds"],
        "probe_seconds": report["probe_seconds"],
        "summary": report["summary"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--parallelism", default="1,8,16,32")
    parser.add_argument("--samples", type=int, default=30, help="sequential probes for the per-endpoint time")
    args = parser.parse_args()
    levels = [int(p) for p in args.parallelism.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cert, key, cert_pem, key_pem = write_material(directory)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.pg_tls_server",
                "--cert",
                str(cert),
                "--key",
                str(key),
                "--ports",
                str(args.endpoints),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            ports = [int(p) for p in server.stdout.readline().split()]
            per_endpoint = sequential_probe_seconds(ports, min(args.samples, len(ports)))
            fleet, specs = write_fleet_and_specs(directory, ports, cert_pem, key_pem)
            with spawn_emulator_process(fleet, output_dir=directory) as emulator:
                env = {
                    **os.environ,
                    "RDSSSL_ENDPOINT": emulator.endpoint,
                    "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
                    "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
                    "HOME": str(directory),
                    "XDG_STATE_HOME": str(directory / "state"),
                }
                runs = [verify_once(specs, ports, p, env) for p in levels]
                # What the command's wall time is besides verify: start-up and loading the specs (offline).
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "rdsssl_reconcile", "validate", str(specs)],
                    env=env,
                    capture_output=True,
                    check=True,
                )
                validate_seconds = time.perf_counter() - started
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=10)
    for run in runs:
        run["bound_seconds"] = round(per_endpoint * args.endpoints / run["parallelism"], 3)
    load = os.getloadavg()
    result = {
        "endpoints": args.endpoints,
        "per_endpoint_seconds": round(per_endpoint, 4),
        "validate_seconds": round(validate_seconds, 3),
        "runs": runs,
        "load_average": [round(x, 2) for x in load],
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "verify.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(
        "| parallelism | command wall | verify (reads + probes) | probes | bound (per-endpoint x N / parallelism) | ok |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(
            f"| {run['parallelism']} | {run['command_seconds']:.2f} s | {run['verify_seconds']:.2f} s | "
            f"{run['probe_seconds']:.2f} s | {run['bound_seconds']:.2f} s | {run['summary']['ok']} / {run['summary']['endpoints']} |"
        )


if __name__ == "__main__":
    main()

"""How fast this machine is at the moment of a run: a fixed pure-Python workload, timed.

The shared 2-core machines these benchmarks run on change speed between moments of one day: the same
1,000-instance plan has measured 1.8 to 6.6 ms of CPU per instance, and a bare ``import`` of the SDK
0.36 to 1.2 s. A ratio measured at a slow moment is then not a regression of the code. Each issue-13
benchmark prints this figure beside its own, and the README's tables give it with theirs, so that a
rerun can tell "the machine is slower" from "the code is slower".

The workload is what the client does most: dictionary work, string formatting and JSON encoding, in
one thread. The speed can change within seconds (seen: 0.06 s and 0.11 s for this workload a few
seconds apart, with no steal time in ``/proc/stat``), so the benchmarks take it just before and just
after each measured run, the median of five each time (lower is faster).
"""

from __future__ import annotations

import json
import statistics
import time


def _workload() -> int:
    table: dict[str, int] = {}
    for index in range(200_000):
        key = f"k{index % 997}"
        table[key] = table.get(key, 0) + index
    encoded = json.dumps([table] * 20)
    return len(encoded) + len(sorted(str(value) for value in table.values()))


def reference_seconds(rounds: int = 5) -> float:
    """Median wall seconds of ``rounds`` runs of the workload (about 0.05-0.12 s each here)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        _workload()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


if __name__ == "__main__":
    print(f"machine reference: {reference_seconds():.3f} s (median of 5; lower is faster)")

"""Run ``verify``: read the live endpoints, probe every target in a bounded pool, judge each probe.

Endpoints are independent: each probe has its own sockets and timeouts, and its failure (a refusal, a
timeout, a name that does not resolve) is that endpoint's result while the others carry on. At most
``parallelism`` probes are in flight; a probe waits at most ``timeout`` per step, so a run of N endpoints
takes at most about N / parallelism x (steps x timeout), and on loopback about N / parallelism x one
handshake (benchmarks/bench_verify.py measures it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from rdsssl_reconcile.cloud.port import ReadOnlyCloudClient
from rdsssl_reconcile.live.model import LiveInstance
from rdsssl_reconcile.live.reader import InstanceRef, read_fleet
from rdsssl_reconcile.planning.eligibility import can_carry_ssl
from rdsssl_reconcile.spec.model import DesiredInstance
from rdsssl_reconcile.verify.checks import judge
from rdsssl_reconcile.verify.model import InstanceReport, ProbeResult, Target, VerifyReport
from rdsssl_reconcile.verify.probe import probe_endpoint
from rdsssl_reconcile.verify.targets import InstanceWork, Resolve, instance_work, resolve_map

#: One endpoint's probe (the real one opens sockets; tests may pass another).
Probe = Callable[[Target], ProbeResult]

DEFAULT_PARALLELISM = 16
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ConnectSettings:
    """How verify connects (``verify`` and ``apply --verify`` parse the same options into this)."""

    resolves: tuple[Resolve, ...] = ()
    bundle: tuple[x509.Certificate, ...] = field(default=(), compare=False)
    bundle_from: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    parallelism: int = DEFAULT_PARALLELISM


def judge_all(
    work: Sequence[InstanceWork], *, probe: Probe, parallelism: int, now: Callable[[], datetime]
) -> tuple[InstanceReport, ...]:
    """Probe every target of every instance (at most ``parallelism`` at once), then judge each."""
    targets = [(w, t) for w in work for t in w.targets]
    with ThreadPoolExecutor(
        max_workers=max(1, min(parallelism, len(targets) or 1)), thread_name_prefix="verify"
    ) as pool:
        futures = [pool.submit(probe, t) for _, t in targets]
        results = [f.result() for f in futures]
    moment = now()
    judged: dict[str, list[Any]] = {w.instance_id: [] for w in work}
    for (w, target), result in zip(targets, results, strict=True):
        judged[w.instance_id].append(judge(target, w.expectation, result, moment))
    return tuple(
        InstanceReport(
            w.instance_id,
            w.region,
            w.source,
            endpoints=(*judged[w.instance_id], *w.unmatched),
            problem=w.problem,
        )
        for w in work
    )


def plan_work(
    desired: Sequence[DesiredInstance],
    live: Mapping[str, LiveInstance],
    *,
    resolves: Sequence[Resolve] = (),
    bundle: tuple[x509.Certificate, ...] = (),
    bundle_from: str | None = None,
) -> tuple[InstanceWork, ...]:
    mapping = resolve_map(resolves)
    return tuple(instance_work(d, live.get(d.id), mapping, bundle=bundle, bundle_from=bundle_from) for d in desired)


def verify_instances(
    client: ReadOnlyCloudClient,
    desired: Sequence[DesiredInstance],
    *,
    target: dict[str, Any],
    now: Callable[[], datetime],
    resolves: Sequence[Resolve] = (),
    bundle: tuple[x509.Certificate, ...] = (),
    bundle_from: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    parallelism: int = DEFAULT_PARALLELISM,
    read_parallelism: int = 8,
    live: Mapping[str, LiveInstance] | None = None,
) -> VerifyReport:
    """Read the live endpoints of ``desired`` (unless ``live`` is given), probe them all, report."""
    started = time.monotonic()
    checked_at = now()
    if live is None:
        refs = [InstanceRef(instance_id=d.id, region=d.region) for d in desired]
        live = read_fleet(client, refs, wants_ssl=can_carry_ssl, parallelism=read_parallelism).instances
    work = plan_work(desired, live, resolves=resolves, bundle=bundle, bundle_from=bundle_from)

    def real_probe(t: Target) -> ProbeResult:
        return probe_endpoint(t, timeout=timeout)

    probing = time.monotonic()
    instances = judge_all(work, probe=real_probe, parallelism=parallelism, now=now)
    probe_seconds = time.monotonic() - probing
    return VerifyReport(
        instances=instances,
        target=target,
        checked_at=checked_at,
        parallelism=parallelism,
        timeout_seconds=timeout,
        wall_seconds=time.monotonic() - started,
        probe_seconds=probe_seconds,
    )

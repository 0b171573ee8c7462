"""The emulator as one object with one entry point: an HTTP request value in, an HTTP response value out.

:class:`EmulatorApp` wires the gateway (signature check, routing, faults, call log) in front of the RDS
response layer and owns the admin API. It never touches a socket, so tests can drive it in-process with no
network (style rule 18), and ``server.py`` only moves bytes.

Pipeline of one API request: parse -> authenticate (gateway errors) -> route -> fault rules (latency,
throttle, 5xx, drop) -> handler -> call log. Every request is logged, including refused ones; the log line
and the record carry the action, instance, outcome and timing, never the URL (it holds ``ServerKey``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .admin import AdminApi
from .auth import AccessKey, Authenticator, default_keys
from .backend import RdsBackend
from .calllog import CallLog, CallRecord, loggable_params, safe_value
from .clock import BusinessClock
from .errors import ServiceError
from .faults import OUTCOME_BY_KIND, FaultInjector, FaultKind
from .fleet import FleetError, load_fleet_file, parse_fleet
from .models import Instance, Outcome
from .responses import RdsResponses, RequestContext, encode, error_body
from .router import is_admin_path, route
from .settings import EmulatorSettings
from .state import NonceFile, StateFile

log = logging.getLogger("rdsssl_reconcile.emulator")

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request. ``headers`` have lower-case names; ``target`` is path plus raw query (never logged)."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""

    def __repr__(self) -> str:
        return f"HttpRequest(method={self.method!r}, path={self.target.partition('?')[0]!r})"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """One response; ``drop`` means: close the connection and send nothing."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON
    drop: bool = False


FAULT_KIND_BY_OUTCOME = {outcome: kind.value for kind, outcome in OUTCOME_BY_KIND.items()}


@dataclass(slots=True)
class _Outcome:
    fault: str | None = None


def new_request_id() -> str:
    return str(uuid.uuid4()).upper()


class EmulatorApp:
    """The whole emulator minus the socket server."""

    def __init__(
        self,
        *,
        backend: RdsBackend,
        keys: tuple[AccessKey, ...] | None = None,
        seed: int = 0,
        initial_instances: tuple[Instance, ...] = (),
        state_file: StateFile | None = None,
    ) -> None:
        self.backend = backend
        self.initial_settings = backend.settings
        self.initial_instances = initial_instances
        self.state_file = state_file
        settings = backend.settings
        self.auth = Authenticator(
            keys or default_keys(),
            max_skew_seconds=settings.max_clock_skew_seconds,
            nonce_ttl_seconds=settings.nonce_ttl_seconds,
        )
        self.faults = FaultInjector(seed)
        self.calls = CallLog(settings.call_log_limit)
        self.responses = RdsResponses(backend)
        self.admin = AdminApi(self)

    @classmethod
    def create(
        cls,
        *,
        fleet: dict[str, Any] | str | Path | None = None,
        state_file: str | Path | None = None,
        settings: EmulatorSettings | None = None,
        keys: tuple[AccessKey, ...] | None = None,
        seed: int = 0,
    ) -> EmulatorApp:
        """Build an emulator from a fleet (dict or file) and/or a state file; the state file wins if it exists.

        Raises:
            FleetError: the fleet or state file is unusable (a UserError: the CLI prints it plainly).
        """
        clock = BusinessClock()
        backend = RdsBackend(clock=clock, settings=settings or EmulatorSettings())
        initial: tuple[Instance, ...] = ()
        if isinstance(fleet, str | Path):
            initial = load_fleet_file(Path(fleet), now=clock.now())
        elif fleet is not None:
            initial = parse_fleet(fleet, source="(fleet dict)", now=clock.now(), base_dir=Path.cwd())
        state = StateFile(Path(state_file)) if state_file is not None else None
        if state is not None:
            for stale in state.remove_stale_temporaries():
                log.info("removed %s, left by a save that was interrupted", stale.name)
        restored = state is not None and state.exists()
        if state is not None and restored:
            backend.restore(state.load(), source=str(state.path))
        else:
            backend.reset(initial)
        app = cls(backend=backend, keys=keys, seed=seed, initial_instances=initial, state_file=state)
        if state is not None:
            app._persist_gateway(state, restored=restored)
        return app

    def _persist_gateway(self, state: StateFile, *, restored: bool) -> None:
        """Keep fault rules in the state file and used nonces beside it (``NAME.nonces``), so that a request
        replayed after a restart is refused and a fault that struck does not strike again."""
        if restored:
            problems = self.faults.restore(self.backend.restored_extra.get("faults"))
            if problems:
                raise FleetError(str(state.path), ["damaged state file: " + p for p in problems])
        nonces = NonceFile(state.nonce_path)
        self.auth.nonces.load(nonces.load() if restored else [], now=time.time())
        self.auth.nonces.attach(nonces)
        self.backend.set_extra_state(lambda: {"faults": self.faults.snapshot()})
        self.faults.on_change = self.backend.touch
        self.backend.set_on_change(state.save)
        if not restored:
            state.save(self.backend.serialised_snapshot())

    # ----------------------------------------------------------------- admin-facing operations

    def update_settings(self, **changes: Any) -> EmulatorSettings:
        settings = self.backend.update_settings(**changes)
        self._apply_gateway_settings(settings)
        return settings

    def _apply_gateway_settings(self, settings: EmulatorSettings) -> None:
        self.auth.max_skew_seconds = settings.max_clock_skew_seconds
        self.auth.nonce_ttl_seconds = settings.nonce_ttl_seconds
        self.calls.set_limit(settings.call_log_limit)

    def reset(self, fleet: dict[str, Any] | None = None) -> None:
        """Back to the start-up fleet (or ``fleet``), real time, start-up settings, no faults, no calls."""
        clock = self.backend.clock
        instances = (
            self.initial_instances
            if fleet is None
            else parse_fleet(fleet, source="(admin reset)", now=clock.now(), base_dir=Path.cwd())
        )
        self.backend.replace_settings(self.initial_settings)
        self._apply_gateway_settings(self.initial_settings)
        self.backend.reset(instances)
        self.faults.clear()
        self.calls.clear()

    # ----------------------------------------------------------------- requests

    def handle(self, request: HttpRequest) -> HttpResponse:
        path, _, query = request.target.partition("?")
        handler = self.admin.handle if is_admin_path(path) else self._api
        response = handler(request, path, query)
        # Before the response (or the injected drop) reaches the client: what it may learn of is on disk.
        try:
            self.backend.persist()
        except OSError as exc:
            log.error("cannot write the state file: %s", exc.strerror or type(exc).__name__)
            internal = ServiceError.of("InternalError")
            return HttpResponse(
                status=internal.status,
                body=encode(error_body(internal, new_request_id(), host_id=self.backend.settings.host_id)),
            )
        return response

    def _api(self, request: HttpRequest, path: str, query: str) -> HttpResponse:
        started = time.perf_counter()
        real_now = datetime.now(UTC)
        seq = self.calls.next_seq()
        request_id = new_request_id()
        headers = request.headers
        params = dict(parse_qsl(query, keep_blank_values=True))
        if request.body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True))
        action = headers.get("x-acs-action") or params.get("Action")
        instance_id = params.get("DBInstanceId")
        access_key_id: str | None = None
        outcome = _Outcome()
        response_headers: tuple[tuple[str, str], ...] = ()
        drop = False
        try:
            if request.method not in ("POST", "GET") or path != "/":
                raise ServiceError.of("InvalidApi.NotFound")
            access_key_id = self.auth.verify(
                method=request.method, path=path, raw_query=query, headers=headers, body=request.body
            ).access_key_id
            handler = route(self.responses, action, headers.get("x-acs-version"))
            assert action is not None
            transport = self.faults.transport(action, instance_id)
            if transport.latency_seconds:
                outcome.fault = FaultKind.LATENCY.value
                time.sleep(transport.latency_seconds)
            rule = transport.rule
            if rule is not None:
                outcome.fault = rule.kind.value
                if rule.phase == "before":
                    if rule.kind is FaultKind.DROP:
                        raise _Dropped
                    raise rule.error()

            def choose_outcome() -> Outcome:
                chosen = self.faults.modify_outcome(action, instance_id)
                if chosen is not Outcome.SUCCESS:
                    outcome.fault = FAULT_KIND_BY_OUTCOME[chosen]
                return chosen

            context = RequestContext(
                request_id=request_id,
                base_url=f"http://{headers.get('host', 'localhost')}",
                choose_outcome=choose_outcome,
            )
            body = handler(params, context)
            if rule is not None and rule.phase == "after":
                outcome.fault = f"{rule.kind.value}-after"  # the request WAS carried out
                if rule.kind is FaultKind.DROP:
                    raise _Dropped
                raise rule.error()
            status, code = 200, "ok"
        except _Dropped:
            drop = True
            status, code, body = 0, "ConnectionDropped", {}
        except ServiceError as error:
            status, code = error.status, error.code
            body = error_body(error, request_id, host_id=self.backend.settings.host_id)
            response_headers = error.headers
        except Exception as exc:  # noqa: BLE001 - a bug must answer 500, not kill the connection thread
            log.error("internal error in %s: %s", action, type(exc).__name__)
            internal = ServiceError.of("InternalError")
            status, code = internal.status, internal.code
            body = error_body(internal, request_id, host_id=self.backend.settings.host_id)
        record = CallRecord(
            seq=seq,
            time=real_now.isoformat(),
            emulated_time=self.backend.clock.now().isoformat(),
            action=safe_value(action),
            instance_id=safe_value(instance_id),
            region_id=safe_value(params.get("RegionId")),
            outcome=code,
            http_status=None if drop else status,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            request_id=request_id,
            access_key_id=access_key_id,
            fault=outcome.fault,
            params=loggable_params(params),
        )
        self.calls.append(record)
        log.info("%s", record.summary())
        if drop:
            return HttpResponse(status=0, drop=True)
        return HttpResponse(
            status=status, body=encode(body), headers=(("x-acs-request-id", request_id), *response_headers)
        )


class _Dropped(Exception):
    """Internal signal: answer by closing the connection."""

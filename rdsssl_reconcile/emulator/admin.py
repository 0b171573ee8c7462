"""The admin API under ``/_emulator/`` and its Python client, :class:`EmulatorAdmin`.

Tests and benchmarks seed instances, move the business clock, inject faults and read the call log through
it. It lives on a path prefix the SDK can never produce (every SDK call is ``POST /`` with ``x-acs-action``),
needs no signature (bind the emulator to 127.0.0.1), and is not recorded in the call log, so it never
disturbs the API call counts that tests assert.

Routes (JSON in and out; errors are ``{"error": "..."}`` with 400/404/405)::

    GET    /_emulator/health                    {"ok": true, "instances": N}
    POST   /_emulator/reset                     {"fleet": {...} | null}
    POST   /_emulator/instances                 {"instances": [fleet entries]}  -> {"added": [ids]}
    GET    /_emulator/instances/<id>            full state (+ protected_hosts), server_key -> its sha256
    PATCH  /_emulator/instances/<id>            {fleet-format changes; "pending": null cancels a modify}
    GET    /_emulator/clock                     {"now": ISO, "offset_seconds": s}
    POST   /_emulator/clock                     {"advance_seconds": s} | {"set": ISO}
    GET    /_emulator/faults                    [rules with matched/hits counters]
    POST   /_emulator/faults                    {rule fields} -> {"id": ...}
    DELETE /_emulator/faults                    clear all rules
    GET    /_emulator/calls?action=&instance_id=  [call records]
    DELETE /_emulator/calls                     clear the call log
    GET    /_emulator/modifications             [every accepted modify]
    GET    /_emulator/settings                  current settings
    POST   /_emulator/settings                  {changes} -> settings
    GET    /_emulator/ca.pem                    the emulated cloud CA (what ServerCAUrl points at)

The client uses only ``urllib`` (no new dependency) and ignores proxy variables: the emulator is local.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from rdsssl_reconcile.errors import UserError

from .backend import require_update
from .errors import ServiceError
from .fleet import instance_to_entry, iso_z, parse_entries, ssl_to_entry

if TYPE_CHECKING:
    from .app import EmulatorApp, HttpRequest, HttpResponse

PREFIX = "/_emulator"


class AdminError(Exception):
    """An admin request the emulator refused (bad input, unknown instance or route)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class AdminApi:
    """Server side of the admin routes."""

    def __init__(self, app: EmulatorApp) -> None:
        self.app = app

    def handle(self, request: HttpRequest, path: str, query: str) -> HttpResponse:
        from .app import HttpResponse

        try:
            result = self._dispatch(request, path[len(PREFIX) :].strip("/"), dict(parse_qsl(query)))
        except AdminError as exc:
            return HttpResponse(status=exc.status, body=_json({"error": exc.message}))
        except (UserError, ValueError) as exc:
            return HttpResponse(status=400, body=_json({"error": str(exc)}))
        except (TypeError, OverflowError, KeyError) as exc:
            # Wrong JSON types from the caller ({"advance_seconds": null}, 1e20 seconds): a bad request,
            # answered as one instead of a closed connection.
            return HttpResponse(status=400, body=_json({"error": f"bad request: {type(exc).__name__}: {exc}"}))
        except ServiceError as exc:
            return HttpResponse(status=404 if exc.status == 404 else 400, body=_json({"error": exc.message}))
        if isinstance(result, str):
            return HttpResponse(status=200, body=result.encode("utf-8"), content_type="application/x-pem-file")
        return HttpResponse(status=200, body=_json(result))

    def _dispatch(self, request: HttpRequest, route: str, query: dict[str, str]) -> Any:
        method = request.method
        app = self.app
        backend = app.backend
        body = _body(request)
        parts = route.split("/")
        if route == "health" and method == "GET":
            return {"ok": True, "instances": len(backend.instance_ids())}
        if route == "reset" and method == "POST":
            app.reset(body.get("fleet"))
            return {"ok": True}
        if route == "instances" and method == "POST":
            instances = parse_entries(
                body.get("instances"),
                source="(admin add_instances)",
                now=backend.clock.now(),
                base_dir=Path.cwd(),
                path=("instances",),
            )
            return {"added": list(backend.add_instances(instances))}
        if len(parts) == 2 and parts[0] == "instances":
            if method == "GET":
                return self.instance_state(parts[1])
            if method in ("PATCH", "POST"):
                backend.set_instance(parts[1], body)
                return self.instance_state(parts[1])
        if route == "clock":
            if method == "POST":
                if "advance_seconds" in body:
                    backend.advance_clock(float(body["advance_seconds"]))
                elif "set" in body:
                    backend.set_clock(datetime.fromisoformat(str(body["set"])))
                else:
                    raise AdminError(400, "expected {'advance_seconds': s} or {'set': ISO time}")
            if method in ("GET", "POST"):
                return {"now": backend.clock.now().isoformat(), "offset_seconds": backend.clock.offset_seconds}
        if route == "faults":
            if method == "POST":
                return {"id": app.faults.add(**body).id}
            if method == "DELETE":
                app.faults.clear()
                return {"ok": True}
            if method == "GET":
                return app.faults.rules()
        if route == "calls":
            if method == "DELETE":
                app.calls.clear()
                return {"ok": True}
            if method == "GET":
                records = app.calls.records(action=query.get("action"), instance_id=query.get("instance_id"))
                return [r.to_dict() for r in records]
        if route == "modifications" and method == "GET":
            return [m.to_dict() for m in backend.modifications()]
        if route == "settings":
            if method == "POST":
                return app.update_settings(**body).to_dict()
            if method == "GET":
                return backend.settings.to_dict()
        if route == "ca.pem" and method == "GET":
            return backend.ca_pem
        raise AdminError(
            404 if route.split("/")[0] not in _ROUTES else 405, f"no admin route {method} {PREFIX}/{route}"
        )

    def instance_state(self, instance_id: str) -> dict[str, Any]:
        """Full internal state, JSON-safe, with the server key replaced by its public-key SHA-256."""
        backend = self.app.backend
        instance = backend.get_instance(instance_id)
        now = backend.clock.now()
        state = instance_to_entry(instance, secrets=False)
        update = require_update(instance.ssl, now, days=backend.settings.require_update_days)
        state["require_update"] = update.required
        state["read_only_instance_ids"] = list(backend.readonly_ids(instance_id))
        # What the console would list as "Protected Host" records (under certificate-sans: the SANs' reach).
        state["protected_hosts"] = list(backend.protected_hosts(instance))
        pending = instance.pending
        state["pending"] = (
            None
            if pending is None
            else {
                "request_id": pending.request_id,
                "accepted_at": pending.accepted_at.isoformat(),
                "busy_until": pending.busy_until.isoformat(),
                "outcome": pending.outcome.value,
                "target": ssl_to_entry(pending.target, secrets=False),
            }
        )
        state["now"] = iso_z(now)
        return state


_ROUTES = frozenset({"health", "reset", "instances", "clock", "faults", "calls", "modifications", "settings", "ca.pem"})


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        value = json.loads(request.body)
    except json.JSONDecodeError as exc:
        raise AdminError(400, f"the request body is not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise AdminError(400, "the request body must be a JSON object")
    return value


# --------------------------------------------------------------------------------------------- client


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class EmulatorAdmin:
    """Python client of the admin API, for tests and benchmarks.

    ``base_url`` is the emulator's endpoint, e.g. ``http://127.0.0.1:8080``.
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method: str, route: str, payload: Any = None, query: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{PREFIX}/{route}"
        if query:
            url += "?" + urlencode(query)
        data = None if payload is None else json.dumps(payload, default=_default).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) URL we built
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            try:
                message = json.loads(detail).get("error", detail)
            except (json.JSONDecodeError, AttributeError):
                message = detail
            raise AdminError(exc.code, f"{method} {PREFIX}/{route}: {message}") from None
        if "json" not in kind:
            return raw.decode("utf-8")
        return json.loads(raw)

    # state
    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "health")
        return result

    def reset(self, fleet: dict[str, Any] | None = None) -> None:
        """Back to the start-up fleet (or ``fleet``): real time, start-up settings, no faults, no calls."""
        self._call("POST", "reset", {"fleet": fleet})

    def add_instances(self, entries: list[dict[str, Any]]) -> list[str]:
        result: list[str] = self._call("POST", "instances", {"instances": entries})["added"]
        return result

    def instance(self, instance_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"instances/{quote(instance_id, safe='')}")
        return result

    def set_instance(self, instance_id: str, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PATCH", f"instances/{quote(instance_id, safe='')}", changes)
        return result

    # clock
    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "clock")["now"])

    def advance_clock(self, seconds: float) -> datetime:
        return datetime.fromisoformat(self._call("POST", "clock", {"advance_seconds": seconds})["now"])

    def set_clock(self, dt: datetime) -> datetime:
        if dt.tzinfo is None:
            raise ValueError("set_clock needs a timezone-aware datetime")
        return datetime.fromisoformat(self._call("POST", "clock", {"set": dt.isoformat()})["now"])

    # faults
    def add_fault(self, **rule: Any) -> str:
        result: str = self._call("POST", "faults", rule)["id"]
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "faults")
        return result

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    # call log
    def calls(self, action: str | None = None, instance_id: str | None = None) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("action", action), ("instance_id", instance_id)) if v is not None}
        result: list[dict[str, Any]] = self._call("GET", "calls", query=query)
        return result

    def clear_calls(self) -> None:
        self._call("DELETE", "calls")

    def modifications(self) -> list[dict[str, Any]]:
        """Every accepted modify; ``accepted_at``/``busy_until``/``finished_at`` as tz-aware datetimes."""
        records: list[dict[str, Any]] = self._call("GET", "modifications")
        for record in records:
            for key in ("accepted_at", "busy_until", "finished_at"):
                record[key] = _parse_time(record[key])
        return records

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Read the settings, or change some (``restart_seconds=5``) and read them back."""
        result: dict[str, Any] = self._call("POST", "settings", changes) if changes else self._call("GET", "settings")
        return result

    def ca_pem(self) -> str:
        result: str = self._call("GET", "ca.pem")
        return result


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} to the emulator admin API")

"""Routing: which handler answers a request, like moto's ``urls.py``.

Two namespaces that cannot collide. The SDK always POSTs to ``/`` and names the action in the
``x-acs-action`` header (the SDK's RPC style), so API actions are routed by that name; the admin API lives under
the path prefix ``/_emulator/``, which no SDK call can produce. An action that is not emulated gets the
gateway's ``InvalidApi.NotFound`` (404), and a wrong ``x-acs-version`` gets ``InvalidVersion``.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import ServiceError
from .responses import Body, Params, RdsResponses, RequestContext

API_VERSION = "2014-08-15"
ADMIN_PREFIX = "/_emulator/"

Handler = Callable[[Params, RequestContext], Body]

#: Emulated action -> name of the :class:`RdsResponses` method that answers it.
ACTIONS: dict[str, str] = {
    "DescribeDBInstances": "describe_db_instances",
    "DescribeDBInstanceAttribute": "describe_db_instance_attribute",
    "DescribeDBInstanceNetInfo": "describe_db_instance_net_info",
    "DescribeDBInstanceSSL": "describe_db_instance_ssl",
    "ModifyDBInstanceSSL": "modify_db_instance_ssl",
}

#: Actions that change state (the rest are read-only); the call log and tests use this.
MUTATING_ACTIONS = frozenset({"ModifyDBInstanceSSL"})


def is_admin_path(path: str) -> bool:
    return path == ADMIN_PREFIX.rstrip("/") or path.startswith(ADMIN_PREFIX)


def route(responses: RdsResponses, action: str | None, version: str | None) -> Handler:
    """The handler for ``action``, or the gateway error for an unknown action or API version."""
    method = ACTIONS.get(action or "")
    if method is None:
        raise ServiceError.of("InvalidApi.NotFound")
    if version is not None and version != API_VERSION:
        raise ServiceError.of("InvalidVersion")
    handler: Handler = getattr(responses, method)
    return handler

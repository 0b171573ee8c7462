"""A local emulator of the RDS OpenAPI actions rdsssl-reconcile uses, for the official SDK to talk to.

Built like moto (``docs/emulator.md`` has the user guide and every choice made on open questions):

* ``backend``: instance state and the rules of the five actions (no HTTP); ``models``: its frozen values;
* ``responses``: wire parameters in, JSON out; ``router``: action -> handler; ``errors``: service errors;
* ``auth``: the gateway's ACS3-HMAC-SHA256 check; ``faults``: deterministic fault injection;
* ``calllog``: the secret-free record of every request; ``clock``: the business clock;
* ``fleet``: the YAML fleet format; ``state``: crash-safe persistence; ``certificates``: the emulated CA;
* ``app``: the pipeline as a socket-free object; ``server``: the threaded HTTP/1.1 server;
* ``admin``: the ``/_emulator/`` admin API and its client; ``testing``: ``run_emulator`` and friends.

Importing this package never imports the vendor SDK.
"""

from __future__ import annotations

from .admin import AdminError, EmulatorAdmin
from .app import EmulatorApp, HttpRequest, HttpResponse
from .auth import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    DEFAULT_STS_ACCESS_KEY_ID,
    DEFAULT_STS_ACCESS_KEY_SECRET,
    DEFAULT_STS_SECURITY_TOKEN,
)
from .errors import GatewayError, ServiceError
from .fleet import FleetError
from .server import EmulatorServer
from .settings import EmulatorSettings
from .testing import EmulatorProcess, RunningEmulator, run_emulator, spawn_emulator_process

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "DEFAULT_STS_ACCESS_KEY_ID",
    "DEFAULT_STS_ACCESS_KEY_SECRET",
    "DEFAULT_STS_SECURITY_TOKEN",
    "AdminError",
    "EmulatorAdmin",
    "EmulatorApp",
    "EmulatorProcess",
    "EmulatorServer",
    "EmulatorSettings",
    "FleetError",
    "GatewayError",
    "HttpRequest",
    "HttpResponse",
    "RunningEmulator",
    "ServiceError",
    "run_emulator",
    "spawn_emulator_process",
]

"""Spec format v1 as a JSON Schema: the validator and the schema editors use are the same document.

``rdsssl-reconcile schema`` prints :data:`SPEC_SCHEMA`; ``specs/rdsssl-spec.schema.json`` is a committed
copy (a test keeps them equal). Structural rules live here; rules that need more than one value or
the file system (duplicate ids, files that exist, keys that match certificates) live in the loader.

Shape decisions, and why:

* ``acl`` and ``replication_acl`` sit *inside* ``ssl.client_ca``: the API refuses an ACL without a client
  CA (``InvalidACL.Permission``), so the spec cannot even express that mistake.
* Private keys are ``{file: PATH}`` or ``{env: NAME}`` only, never inline: a key pasted into a Git
  repository is the mistake this tool exists to prevent.
* ``certificate.source`` selects the branch (``aliyun`` | ``custom`` | ``issuer``) with if/then rules, not
  ``oneOf``, so an error names the one key that is wrong instead of "matches none of the schemas".
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://rdsssl-reconcile.dev/schemas/spec-v1.json"

INSTANCE_ID_PATTERN = r"^[a-z][a-z0-9-]{2,63}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z0-9]+){1,3}$"
HOSTNAME_PATTERN = r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: Label names as Kubernetes writes them without a prefix: selectors say ``labels.NAME=GLOB``.
LABEL_NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
WINDOW_PATTERN = (
    r"^\s*((mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?"
    r"(,(mon|tue|wed|thu|fri|sat|sun)(-(mon|tue|wed|thu|fri|sat|sun))?)*\s+)?"
    r"([01][0-9]|2[0-3]):[0-5][0-9]Z?-([01][0-9]|2[0-3]):[0-5][0-9]Z?\s*$"
)
ACL_VALUES = ["cert", "prefer", "verify-ca", "verify-full"]
KEY_TYPES = ["rsa-2048", "rsa-3072", "rsa-4096", "ec-p256"]

_PUBLIC_PEM = {
    "description": "Public PEM material: a file (relative to the spec file) or inline PEM text.",
    "type": "object",
    "properties": {
        "file": {"type": "string", "minLength": 1, "description": "Path to a PEM file, relative to this spec file."},
        "pem": {"type": "string", "minLength": 1, "description": "Inline PEM text (certificates and CRLs only)."},
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}

_SECRET = {
    "description": "A private key: a file or an environment variable holding PEM. Never inline.",
    "type": "object",
    "properties": {
        "file": {"type": "string", "minLength": 1, "description": "Path to the key file, relative to this spec file."},
        "env": {
            "type": "string",
            "pattern": ENV_NAME_PATTERN,
            "description": "Name of an environment variable whose value is the PEM key.",
        },
    },
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
}

_CERTIFICATE = {
    "description": "Where the server certificate comes from.",
    "type": "object",
    "properties": {
        "source": {
            "enum": ["aliyun", "custom", "issuer"],
            "description": "aliyun: Alibaba Cloud-managed (1 endpoint); custom: your PEM files; "
            "issuer: issued and renewed by this tool from the CA you give it.",
        },
        "cert": {**_PUBLIC_PEM, "description": "custom: the server certificate (a chain may follow the leaf)."},
        "key": {**_SECRET, "description": "custom: the server certificate's private key (unencrypted)."},
        "ca_cert": {**_PUBLIC_PEM, "description": "issuer: the CA certificate that signs server certificates."},
        "ca_key": {**_SECRET, "description": "issuer: the CA's private key."},
        "validity_days": {"type": "integer", "minimum": 1, "maximum": 3650, "description": "issuer: default 365."},
        "key_type": {"enum": KEY_TYPES, "description": "issuer: key of issued certificates, default rsa-2048."},
        "renew_before_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": 3650,
            "description": "issuer: renew this many days before expiry (default: policy.renew_before_days).",
        },
    },
    "required": ["source"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"source": {"const": "aliyun"}}, "required": ["source"]},
            "then": {
                "properties": {
                    "cert": False,
                    "key": False,
                    "ca_cert": False,
                    "ca_key": False,
                    "validity_days": False,
                    "key_type": False,
                    "renew_before_days": False,
                }
            },
        },
        {
            "if": {"properties": {"source": {"const": "custom"}}, "required": ["source"]},
            "then": {
                "required": ["cert", "key"],
                "properties": {
                    "ca_cert": False,
                    "ca_key": False,
                    "validity_days": False,
                    "key_type": False,
                    "renew_before_days": False,
                },
            },
        },
        {
            "if": {"properties": {"source": {"const": "issuer"}}, "required": ["source"]},
            "then": {"required": ["ca_cert", "ca_key"], "properties": {"cert": False, "key": False}},
        },
    ],
}

_CLIENT_CA = {
    "description": "Client certificate authentication: the CA that signs client certificates, and what to do with it.",
    "type": "object",
    "properties": {
        "cert": {**_PUBLIC_PEM, "description": "The client CA certificate."},
        "crl": {**_PUBLIC_PEM, "description": "Optional certificate revocation list of that CA."},
        "acl": {"enum": ACL_VALUES, "description": "Client certificate check for normal connections."},
        "replication_acl": {"enum": ACL_VALUES, "description": "Client certificate check for replication."},
    },
    "required": ["cert"],
    "additionalProperties": False,
}

_SSL = {
    "description": "The desired SSL configuration of the instance.",
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "description": "Whether SSL is on."},
        "endpoints": {
            "description": "Connection strings to protect (exactly one for source aliyun).",
            "type": "array",
            "items": {"type": "string", "pattern": HOSTNAME_PATTERN},
            "minItems": 1,
            "uniqueItems": True,
        },
        "certificate": _CERTIFICATE,
        "client_ca": _CLIENT_CA,
    },
    # Required: a spec that leaves it out must not mean "turn SSL off" (a restart) by accident.
    "required": ["enabled"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"enabled": {"const": True}}, "required": ["enabled"]},
            "then": {"required": ["endpoints", "certificate"]},
        },
        {
            "if": {"properties": {"enabled": {"const": False}}, "required": ["enabled"]},
            "then": {"properties": {"certificate": False, "client_ca": False}},
        },
    ],
}

_POLICY = {
    "description": "What apply may do to this instance.",
    "type": "object",
    "properties": {
        "restart": {
            "enum": ["allowed", "window", "never"],
            "description": "allowed (default): restart when applied; window: only inside `window`; "
            "never: only with `apply --allow-restart ID`.",
        },
        "window": {
            "type": "string",
            "pattern": WINDOW_PATTERN,
            "description": "UTC maintenance window, e.g. '02:00-04:00' (daily) or 'sat,sun 01:00-05:00'.",
        },
        "renew_before_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": 3650,
            "description": "Plan a renewal (or warn, for custom certificates) this many days before expiry. Default 30.",
        },
    },
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"restart": {"const": "window"}}, "required": ["restart"]},
            "then": {"required": ["window"]},
        }
    ],
}

_INSTANCE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "string", "pattern": INSTANCE_ID_PATTERN, "description": "The DBInstanceId, e.g. pgm-bp1xxxx."},
    "region": {"type": "string", "pattern": REGION_PATTERN, "description": "The RegionId, e.g. cn-hangzhou."},
    "description": {"type": "string", "description": "Free text for humans; shown in plans."},
    "labels": {
        "description": "Names and values for selecting instances (plan/apply/drift --select labels.NAME=GLOB); "
        "they change nothing on the instance.",
        "type": "object",
        "propertyNames": {"pattern": LABEL_NAME_PATTERN},
        "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 253},
    },
    "ssl": _SSL,
    "policy": _POLICY,
}

INSTANCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": _INSTANCE_PROPERTIES,
    "required": ["id", "region", "ssl"],
    "additionalProperties": False,
}


def _types_only(schema: Any) -> Any:
    """``schema`` without ``required`` and conditional rules: a partial value, completed elsewhere."""
    if isinstance(schema, dict):
        return {k: _types_only(v) for k, v in schema.items() if k not in ("required", "allOf")}
    if isinstance(schema, list):
        return [_types_only(v) for v in schema]
    return schema


#: What ``defaults:`` may hold: any instance key but ``id``, with types and known keys checked but nothing
#: required and no cross-field rule: each instance completes the defaults, and the merged instance is
#: validated against the full instance schema (so the error names the instance).
DEFAULTS_SCHEMA: dict[str, Any] = {
    "description": "Values every instance in this file inherits (mappings merge, lists and scalars are replaced).",
    "type": "object",
    "properties": {k: _types_only(v) for k, v in _INSTANCE_PROPERTIES.items() if k not in ("id", "description")},
    "additionalProperties": False,
}

SPEC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "rdsssl-reconcile spec (format v1)",
    "description": "Desired SSL configuration of ApsaraDB RDS for PostgreSQL instances.",
    "type": "object",
    "properties": {
        "version": {"const": 1, "description": "Spec format version; optional, 1 if omitted."},
        "defaults": DEFAULTS_SCHEMA,
        "instances": {
            "type": "array",
            "items": {
                **INSTANCE_SCHEMA,
                # Inside a file the merged instance is validated by the loader; for editors, id is what
                # must always be written per instance (region and ssl may come from defaults).
                "required": ["id"],
            },
        },
    },
    "required": ["instances"],
    "additionalProperties": False,
}


def schema_json() -> str:
    """The schema as pretty JSON with a trailing newline, exactly as committed under ``specs/``."""
    return json.dumps(SPEC_SCHEMA, indent=2, ensure_ascii=False) + "\n"

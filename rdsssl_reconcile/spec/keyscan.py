"""Does a piece of text hold a private key, with or without its PEM armour?

Specs are committed to Git and their strings end up in plans, PR comments and CI logs, so a key pasted
into any field must be refused and never echoed. The armoured form is easy (``PRIVATE KEY-----``); the
body alone, copied without its ``-----BEGIN`` line, is a run of base64 that decodes to a DER private key:
PKCS#8 (``PRIVATE KEY``, also encrypted), PKCS#1 (``RSA PRIVATE KEY``) or SEC1 (``EC PRIVATE KEY``).

Every DER private key is a SEQUENCE, whose first byte ``0x30`` encodes as a base64 run starting with
``M``. So each run that starts with ``M`` at a word boundary is decoded (whitespace and line breaks
inside it allowed, as in a pasted multi-line body), cut to the length its DER header announces, and
handed to ``cryptography``'s loaders. Certificates and other DER values fail to load and are not keys.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.hazmat.primitives import serialization

#: The shortest base64 body of a real key: an Ed25519 PKCS#8 key is 48 bytes, 64 characters.
MIN_BODY_CHARACTERS = 64
#: A 16384-bit RSA key in PKCS#8 is under 10 kB of DER; no key body is longer than this.
MAX_BODY_CHARACTERS = 16_384

_CANDIDATE = re.compile(r"(?<![A-Za-z0-9+/])M[A-Za-z0-9+/]{3}[A-Za-z0-9+/\s]*={0,2}")
_WHITESPACE = re.compile(r"\s+")


def holds_private_key(text: str) -> bool:
    """True when ``text`` holds an armoured private key or the base64 body of a DER one."""
    if "PRIVATE KEY-----" in text:
        return True
    if len(text) < MIN_BODY_CHARACTERS:
        return False
    return any(_is_der_key_body(match.group()) for match in _CANDIDATE.finditer(text))


def _is_der_key_body(run: str) -> bool:
    body = _WHITESPACE.sub("", run)[: MAX_BODY_CHARACTERS + 4]
    if len(body) < MIN_BODY_CHARACTERS:
        return False
    body = body.rstrip("=")
    if len(body) % 4 == 1:
        body = body[:-1]  # cannot end a base64 group; the DER length below decides what counts anyway
    body += "=" * (-len(body) % 4)
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return False
    value = _first_der_value(der)
    return value is not None and _loads_as_private_key(value)


def _first_der_value(data: bytes) -> bytes | None:
    """The first DER SEQUENCE in ``data``, by its own length header; None when there is none whole."""
    if len(data) < 2 or data[0] != 0x30:
        return None
    first = data[1]
    if first < 0x80:
        length, header = first, 2
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        length, header = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    end = header + length
    return data[:end] if end <= len(data) else None


def _loads_as_private_key(der: bytes) -> bool:
    try:
        serialization.load_der_private_key(der, password=None)
    except TypeError:
        return True  # an encrypted PKCS#8 key: "password was not given"
    except (ValueError, binascii.Error):
        return False
    except Exception:  # noqa: BLE001 - any other parser complaint means "not a key we recognise"
        return False
    return True

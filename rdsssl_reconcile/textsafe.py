r"""Text from outside, shown so that it cannot act on the terminal: control characters made visible.

Why: a plan is read by the person who approves a restart. Descriptions, ids and paths come from specs,
subjects, SANs and issuers from certificates and CRLs, reasons and error messages from the API; any of
them can hold ``ESC[2A`` (move up and overwrite what the approver read), an OSC 52 clipboard write, BEL,
CR or backspace (rewrite the current line), or a bidi override that shows text in another order. When
stdout is not a terminal click strips colour (CSI) sequences but lets OSC, BEL and CR through, so no
output is safe by accident: every renderer escapes, terminal or not.

What is escaped: every character of the Unicode categories Cc (C0 controls, DEL, C1 controls U+0080 to
U+009F), Cf (format characters: bidi embeddings, overrides and isolates U+202A-U+202E and U+2066-U+2069,
marks U+200E/U+200F and U+061C, zero-width characters, soft hyphen, BOM, tags), Zl and Zp (U+2028 and
U+2029, which some terminals and editors break lines on) and Cs (lone surrogates: the bytes of a file name
that is not UTF-8, as ``os.fsdecode`` hands them over; printing them raw would crash). Each becomes the
escape Python itself writes: ``\t``, ``\n``, ``\r``, ``\x1b``, ``\x9b``, ``\u202e``, ``\U000e0041``.
Printable text, in any script, is left alone. The backslash is not escaped: Windows paths and regular
expressions stay readable, and escaping is idempotent (``visible(visible(s)) == visible(s)``), which is
what lets a boundary escape again without damaging text escaped earlier.

Where it happens (the one mechanism, in three parts):

1. **Values stay exact.** Models, plan files, the audit log and ``--format json`` keep the raw value;
   JSON output goes through ``json.dumps`` with its default ``ensure_ascii=True``, which writes every
   control and non-ASCII character as ``\uXXXX``. Nothing here is applied to data, only to display.
2. **Escape at composition, one field at a time.** A renderer wraps every value it did not write itself
   in :func:`visible` where it interpolates it. A field is one line, so newline and tab are escaped too:
   a ``\n`` inside a description or an API reason cannot start a forged line (``Plan: 0 to change``)
   or push columns apart. Multi-line messages we build ourselves (the spec problems of ``SpecError``,
   the stale-plan list) are composed with :func:`listing`, which escapes each item as one line and keeps
   only the newlines between items.
3. **The error boundary escapes again.** ``cli.run`` passes every error message through
   :func:`visible_lines` (everything but the newline), as defence in depth for a message composed without
   2: at worst such a message can show a forged line break, never move the cursor or write to the
   clipboard. Styled output (``click.style``) cannot go through this boundary, because its own colour
   sequences would be escaped; that is why renderers rely on 2.

This module imports nothing of ours, so every layer (renderers, the CLI, pki display code) can use it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

#: Unicode general categories made visible (see the module docstring).
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_char(char: str) -> str:
    """The visible form of one character that must not reach a terminal raw."""
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_unsafe(char: str) -> bool:
    """True for a character that could act on a terminal or hide itself (one of ``ESCAPED_CATEGORIES``)."""
    return unicodedata.category(char) in ESCAPED_CATEGORIES


def visible(text: str) -> str:
    """One line of display text: every unsafe character, newline and tab included, escaped."""
    # Fast path: printable text (the common case) has no character of the escaped categories.
    if text.isprintable():
        return text
    return "".join(escape_char(char) if is_unsafe(char) else char for char in text)


def visible_lines(text: str) -> str:
    """Several lines of display text: like :func:`visible`, but the newlines between lines are kept."""
    return "\n".join(visible(line) for line in text.split("\n"))


def listing(header: str, items: Iterable[str], *, bullet: str = "  - ") -> str:
    """A header and one line per item, each item escaped as a single line (a ``\\n`` in it stays visible)."""
    return "\n".join([header, *(f"{bullet}{visible(item)}" for item in items)])

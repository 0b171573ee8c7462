"""Text for XML and HTML documents: one line of :func:`~rdsssl_reconcile.textsafe.visible` text that every
XML 1.0 parser accepts.

Why beyond ``visible()``: XML 1.0 allows only ``#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
[#x10000-#x10FFFF]``. ``visible()`` already escapes the control characters and lone surrogates, but leaves
the noncharacters U+FFFE and U+FFFF (category Cn), which a JUnit parser rejects and HTML calls a parse
error. ``xml.etree`` writes whatever it is given, so a report with one such character in a certificate
subject would be a document no dashboard can read. They are escaped the way ``visible()`` escapes, so the
reader sees ``\\ufffe`` where the character was.

Markup escaping itself (``&``, ``<``, quotes) is left to the writer of each format (``xml.etree`` for
JUnit, :func:`html.escape` for HTML): this module only decides which characters are shown as escapes.
"""

from __future__ import annotations

from rdsssl_reconcile.textsafe import escape_char, visible

_XML_FORBIDDEN = frozenset({0xFFFE, 0xFFFF})


def markup_text(text: str | None) -> str:
    """One line of text safe for a terminal and legal in XML 1.0 (``None`` is the empty string)."""
    shown = visible(text or "")
    if not any(ord(char) in _XML_FORBIDDEN for char in shown):
        return shown
    return "".join(escape_char(char) if ord(char) in _XML_FORBIDDEN else char for char in shown)

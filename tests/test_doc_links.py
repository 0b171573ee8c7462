"""Every relative link in the README and docs resolves inside the repository (issue 10, sources and wording).

A link to a file that is not in the repository (a private reference, a moved doc) or to a heading that was
renamed sends a reader nowhere. Links are read with a CommonMark parser, so links inside code blocks are
not links, and anchors are matched against headings slugged the way GitHub slugs them.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "examples").glob("**/README.md")],
)
_PARSER = MarkdownIt("commonmark")


def _inline_text(token: Token) -> str:
    """The visible text of a heading's inline token (code spans included, markup dropped)."""
    return "".join(child.content for child in token.children or () if child.type in {"text", "code_inline"})


def github_slug(text: str, seen: Counter[str]) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens, ``-N`` for repeats."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    count = seen[slug]
    seen[slug] += 1
    return slug if count == 0 else f"{slug}-{count}"


def anchors(path: Path) -> set[str]:
    tokens = _PARSER.parse(path.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    return {
        github_slug(_inline_text(tokens[i + 1]), seen) for i, tok in enumerate(tokens) if tok.type == "heading_open"
    }


def relative_links(path: Path) -> list[str]:
    """Every link and image target in ``path`` that is not an absolute URL."""
    found: list[str] = []
    for tok in _PARSER.parse(path.read_text(encoding="utf-8")):
        for child in tok.children or ():
            target = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
            if isinstance(target, str) and not urlsplit(target).scheme and not target.startswith("//"):
                found.append(target)
    return found


def test_the_slug_matches_githubs_for_code_and_punctuation() -> None:
    seen: Counter[str] = Counter()
    assert github_slug("Reviewing a saved plan: show FILE", seen) == "reviewing-a-saved-plan-show-file"
    assert github_slug("Reviewing a saved plan: show FILE", seen) == "reviewing-a-saved-plan-show-file-1"
    assert github_slug("The request: only what the pending changes need", seen) == (
        "the-request-only-what-the-pending-changes-need"
    )


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text("# Title\n\n[a](missing.md) and [b](#nope), `[c](in-code.md)`\n\n```\n[d](fenced.md)\n```\n")
    assert relative_links(doc) == ["missing.md", "#nope"]
    assert anchors(doc) == {"title"}


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    broken: list[str] = []
    for link in relative_links(doc):
        parts = urlsplit(link)
        target = (doc.parent / unquote(parts.path)).resolve() if parts.path else doc
        if not target.is_relative_to(ROOT):
            broken.append(f"{link}: outside the repository")
        elif not target.exists():
            broken.append(f"{link}: no such file {target.relative_to(ROOT)}")
        elif parts.fragment and target.suffix == ".md" and parts.fragment not in anchors(target):
            broken.append(f"{link}: no heading #{parts.fragment} in {target.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)

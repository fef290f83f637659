"""Links between the docs land on a heading: ``[x](other.md#part)`` and ``[x](#part)``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[2] / "docs"
LINK = re.compile(r"\]\(((?:[\w-]+\.md)?)#([\w-]+)\)")


def anchors(text: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as -."""
    headings = re.findall(r"^#+\s+(.*?)\s*$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_anchor_a_doc_links_to_is_a_heading(doc: Path) -> None:
    broken = [f"{page or doc.name}#{anchor}" for page, anchor in LINK.findall(doc.read_text())
              if anchor not in anchors((DOCS / page if page else doc).read_text())]
    assert broken == []

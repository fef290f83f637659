"""The docs' curl examples work when pasted: one that sends a body names its content type (curl's
``-d`` says ``application/x-www-form-urlencoded``, which the API refuses with 415)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])


def curl_commands(text: str) -> list[str]:
    """Each ``curl`` command of a page, its continued lines (``\\``) joined."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    return [line[line.index("curl "):] for line in joined.splitlines() if "curl " in line]


def test_a_command_is_read_with_its_continued_lines() -> None:
    text = ("```sh\ncurl -s -X POST http://x/ \\\n"
            "  -H 'Content-Type: application/json' \\\n  -d '{}'\n```")
    assert curl_commands(text) == [
        "curl -s -X POST http://x/ -H 'Content-Type: application/json' -d '{}'"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_curl_with_a_body_names_its_content_type(page: Path) -> None:
    missing = [command for command in curl_commands(page.read_text())
               if re.search(r"\s(-d|--data\S*)\s", command)
               and "content-type:" not in command.lower()]
    assert missing == []

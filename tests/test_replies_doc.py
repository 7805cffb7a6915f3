"""docs/replies.md shows every reply as residents read it: written from the real templates
by scripts/replies_doc.py, so it must match what that script writes today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from smsbot import templates

ROOT = Path(__file__).resolve().parent.parent


def _script():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location(
        "replies_doc", ROOT / "scripts" / "replies_doc.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_replies_page_is_up_to_date():
    script = _script()
    assert script.DOC.read_text(encoding="utf-8") == script.document(), (
        "docs/replies.md is out of date: run .venv/bin/python scripts/replies_doc.py"
    )


def test_every_reply_is_on_the_page_with_its_segment_count():
    page = (ROOT / "docs" / "replies.md").read_text(encoding="utf-8")
    for name in templates.names("ru"):
        assert f"`{name}` · budget" in page, name
    assert page.count("\nRussian, ") == page.count("\nEnglish") == page.count("\nTranslit, ")
    assert "**1 SMS**" in page and "**2 SMS**" in page


def test_the_readme_links_to_the_page():
    assert "docs/replies.md" in (ROOT / "README.md").read_text(encoding="utf-8")

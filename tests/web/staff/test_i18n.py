"""Every English message id of the web interface has its Russian translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import smsbot

PACKAGE = Path(smsbot.__file__).resolve().parent
TEMPLATE_CALL = re.compile(r"""\b_\(\s*(['"])((?:\\.|(?!\1).)*)\1""")
TEMPLATE_PLURAL = re.compile(r"""\bngettext\([^,]+,\s*(['"])((?:\\.|(?!\1).)*)\1""")
PYTHON_CALLS = {"gettext", "Refused", "_"}
NAME_TABLES = {
    "ROLE_NAMES",
    "STATUS_NAMES",
    "VIEW_NAMES",
    "ERROR_MESSAGES",
    "TICKET_STATUS_NAMES",
    "DESK_STATUS_NAMES",
    "TRANSITION_NAMES",
    "CATEGORY_NAMES",
    "PRIORITY_NAMES",
    "ACTOR_NAMES",
    "OUTAGE_NAMES",
    "NAMES",
}


def _unescape(text: str) -> str:
    return text.replace("\\'", "'").replace('\\"', '"')


def message_ids() -> tuple[set[str], set[str]]:
    """(plain message ids, plural singulars) used by templates and the web code."""
    plain: set[str] = set()
    plurals: set[str] = set()
    for path in (PACKAGE / "web" / "templates").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        plain |= {_unescape(m.group(2)) for m in TEMPLATE_CALL.finditer(text)}
        plurals |= {_unescape(m.group(2)) for m in TEMPLATE_PLURAL.finditer(text)}
    sources = [*(PACKAGE / "web").glob("*.py"), *PACKAGE.glob("*.py")]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[0] if node.args else None
                wanted = name in PYTHON_CALLS and (path.parent.name == "web" or name == "Refused")
                if wanted and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    plain.add(first.value)
                singular = node.args[1] if len(node.args) > 1 else None
                if name == "ngettext" and isinstance(singular, ast.Constant):
                    plurals.add(singular.value)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                names = {getattr(t, "id", None) for t in node.targets}
                if names & NAME_TABLES:
                    plain |= {v.value for v in node.value.values if isinstance(v, ast.Constant)}
    return plain, plurals


def test_every_message_id_has_a_russian_translation():
    from smsbot.web.translations import RU, RU_PLURALS

    plain, plurals = message_ids()
    assert plain, "no message ids found: the extractor is broken"
    missing = sorted(m for m in plain if m not in RU)
    assert not missing, "add Russian for:\n" + "\n".join(missing)
    missing_plurals = sorted(p for p in plurals if p not in RU_PLURALS)
    assert not missing_plurals, "add Russian plural forms for:\n" + "\n".join(missing_plurals)


def test_translations_keep_their_fields():
    from smsbot.web.translations import RU

    field = re.compile(r"\{(\w+)\}")
    for msgid, text in RU.items():
        assert set(field.findall(msgid)) == set(field.findall(text)), msgid


def test_russian_plurals():
    from flask import Flask, session

    from smsbot.web.i18n import ngettext

    app = Flask(__name__)
    app.secret_key = "x"
    with app.test_request_context():
        session["lang"] = "ru"
        forms = [
            ngettext(n, "Send to {n} phone", "Send to {n} phones") for n in (1, 2, 5, 11, 21, 112)
        ]
        session["lang"] = "en"
        english = ngettext(1, "Send to {n} phone", "Send to {n} phones")
    assert forms == [
        "Отправить на 1 номер",
        "Отправить на 2 номера",
        "Отправить на 5 номеров",
        "Отправить на 11 номеров",
        "Отправить на 21 номер",
        "Отправить на 112 номеров",
    ]
    assert english == "Send to 1 phone"

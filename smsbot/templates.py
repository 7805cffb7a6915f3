"""Reply texts from smsbot/templates_sms/<language>/<name>.txt, rendered and measured.

Code hands a template name and data; words live only in the template files, so a company or
a translator edits a text file, never Python. Each file declares its budget in SMS segments
on its first line, `{# segments: 2 #}`, and the template tests hold every text to it.

A reply that lists sums (a bill's lines) may say `{# segments: 2; folds: lines #}`: when its
text is over budget with the data it got, the smallest `amount` of that list moves to a list
`folded` and the text is rendered again, until it fits. The template prints what was folded
as one line (`Ещё 3 услуги 930,00`), so a long bill costs its budget instead of a segment per
line, and the big lines stay in sight, in the bill's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import phonenumbers

from smsbot import money
from smsbot.exceptions import UnknownTemplate
from smsbot.segments import Measure, measure
from smsbot.translit import transliterate
from smsbot.wording import counted, hours_en, latin_name

ROOT = Path(__file__).resolve().parent / "templates_sms"
"""Where the reply texts live: inside the package, so a plain (non-editable) install ships them."""

LANGUAGES = ("ru", "en")
"""Russian first; English everywhere."""
DEFAULT_LANGUAGE = "ru"

_TRAILING_BLANKS = re.compile(r"[ \t]+\n")
_BUDGET = re.compile(r"\{#\s*segments:\s*(\d+)\s*(?:;\s*folds:\s*(\w+)\s*)?#\}")


@dataclass(frozen=True)
class Rendered:
    """A reply ready to send: its text and what it costs."""

    name: str
    language: str
    text: str
    measure: Measure
    budget: int


def _date(value: date | datetime, tz: str | None = None) -> str:
    if isinstance(value, datetime):
        if tz and value.tzinfo is not None:
            value = value.astimezone(ZoneInfo(tz))
        return value.strftime("%d.%m.%Y")
    return value.strftime("%d.%m.%Y")


def _datetime(value: datetime, tz: str | None = None) -> str:
    if tz and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(tz))
    return value.strftime("%d.%m.%Y %H:%M")


def _time(value: datetime, tz: str | None = None) -> str:
    if tz and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(tz))
    return value.strftime("%H:%M")


def _daytime(value: datetime, tz: str | None = None) -> str:
    """A deadline inside a short reply: `31.12 23:59`, the day without the year (a deadline
    is days away, and the year costs five characters of a 70-character SMS)."""
    if tz and value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(tz))
    return value.strftime("%d.%m %H:%M")


def _capfirst(value: str) -> str:
    """Jinja's `capitalize` lowercases the rest (`кв. 1024А` → `кв. 1024а`); this does not."""
    return value[:1].upper() + value[1:]


def _phone(value: str | None) -> str:
    """+74957770101 as people dial it: +7 495 777-01-01."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "RU")
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@lru_cache(maxsize=4)
def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = money.format_rub
    env.filters["date"] = _date
    env.filters["datetime"] = _datetime
    env.filters["time"] = _time
    env.filters["phone"] = _phone
    env.filters["latin"] = transliterate
    env.filters["daytime"] = _daytime
    env.filters["capfirst"] = _capfirst
    env.filters["counted"] = counted
    env.filters["latin_name"] = latin_name
    env.filters["hours_en"] = hours_en
    return env


def names(language: str = DEFAULT_LANGUAGE, root: Path = ROOT) -> list[str]:
    """Every template name for a language."""
    return sorted(p.stem for p in (root / language).glob("*.txt"))


def budget(name: str, language: str = DEFAULT_LANGUAGE, root: Path = ROOT) -> int:
    """The segment budget the template file declares on its first line."""
    return _header(root / language / f"{name}.txt", _mtime(root / language / f"{name}.txt"))[0]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        raise UnknownTemplate(f"{path.parent.name}/{path.stem}") from None


@lru_cache(maxsize=512)
def _header(path: Path, mtime: int) -> tuple[int, str | None]:
    """Read once per version of the file: every reply carries its budget, and a worker
    renders hundreds a second (keyed on the mtime, so an edited text is read again)."""
    match = _BUDGET.search(path.read_text(encoding="utf-8").split("\n", 1)[0])
    if not match:
        raise UnknownTemplate(
            f"{path.parent.name}/{path.stem} has no '{{# segments: N #}}' first line"
        )
    return int(match.group(1)), match.group(2)


def render(
    name: str,
    language: str = DEFAULT_LANGUAGE,
    *,
    translit: bool = False,
    root: Path = ROOT,
    **params: Any,
) -> Rendered:
    """Render a reply; fall back to Russian when a language lacks the template."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    if language != DEFAULT_LANGUAGE and not (root / language / f"{name}.txt").exists():
        language = DEFAULT_LANGUAGE
    try:
        template = _environment(root).get_template(f"{language}/{name}.txt")
    except jinja2.TemplateNotFound:
        raise UnknownTemplate(f"{language}/{name}") from None
    path = root / language / f"{name}.txt"
    limit, folds = _header(path, _mtime(path))
    if folds is None:
        text = _text(template, params, translit)
        return Rendered(name, language, text, measure(text), limit)
    items = list(params.get(folds) or ())
    kept = list(range(len(items)))
    by_size = sorted(kept, key=lambda i: (abs(items[i].get("amount", 0)), -i))
    while True:
        shown = [items[i] for i in kept]
        folded = [items[i] for i in range(len(items)) if i not in kept]
        text = _text(template, params | {folds: shown, "folded": folded}, translit)
        measured = measure(text)
        if measured.segments <= limit or not kept:
            return Rendered(name, language, text, measured, limit)
        kept.remove(by_size.pop(0))
        if not folded and by_size:  # one line folded into "1 more" saves nothing
            kept.remove(by_size.pop(0))


def _text(template: jinja2.Template, params: dict[str, Any], translit: bool) -> str:
    text = template.render(**params).strip()
    if " \n" in text or "\t\n" in text:
        text = _TRAILING_BLANKS.sub("\n", text)
    return transliterate(text) if translit else text

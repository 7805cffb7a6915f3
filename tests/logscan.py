"""Personal data in logs fails the test that logged it (the founders' rule 5).

A handler on the root logger keeps every record of the test run; after each test its
records are searched for a phone number that is not masked, and for a resident's text.
Phones are found by shape, with a pattern of our own (not the product's masking pattern,
which it checks): +7, 7 or 8 and ten digits standing alone, or any "+" and 11-15 digits,
plain or URL-encoded; "+7985***4567" is masked and passes. A resident's text is any
message body the test stored (read from its database after the test, so every text a
fixture or a fuzzer made counts) of two words or more and ten characters or more, with a
letter in it: a whole text inside a log line is a leak. A single word would match by chance
("balance" is a command a resident types and the intent a log line names).

Subprocesses' logs count where a test collects them (`add_output`).
"""

from __future__ import annotations

import logging
import re
import threading

PHONE = re.compile(
    r"(?<![\w*+])\+?[78]\d{10}(?!\w)|(?<![\w*])\+\d{11,15}(?!\w)|%2[Bb]\d{10,15}(?!\w)"
)
MIN_TEXT = 10


class Collector(logging.Handler):
    """Keeps (logger, message with its traceback) of every record, from every thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self._lock_lines = threading.Lock()
        self._plain = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a broken call's own error is logging's to report
            return
        if record.exc_info:
            text += "\n" + self._plain.formatException(record.exc_info)
        with self._lock_lines:
            self.lines.append((record.name, text))

    def add_output(self, source: str, output: str) -> None:
        """A subprocess's log (its stderr), line by line, as if logged here."""
        with self._lock_lines:
            self.lines.extend((source, line) for line in output.splitlines())

    def mark(self) -> int:
        return len(self.lines)

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self._lock_lines:
            return self.lines[mark:]


COLLECTOR = Collector()


def install() -> None:
    root = logging.getLogger()
    if COLLECTOR not in root.handlers:
        root.addHandler(COLLECTOR)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def stored_texts() -> set[str]:
    """Every message body in the database the test last used, long enough to judge."""
    from sqlalchemy import text

    from smsbot import db

    engine = db._engine
    if engine is None:
        return set()
    try:
        with engine.connect() as conn:
            bodies = conn.execute(text("SELECT DISTINCT body FROM message")).scalars().all()
    except Exception:  # its database is gone or was never migrated: nothing to compare
        return set()
    return {
        b.strip()
        for b in bodies
        if b and len(b.strip()) >= MIN_TEXT and len(b.split()) >= 2 and any(c.isalpha() for c in b)
    }


def leaks(lines: list[tuple[str, str]]) -> list[str]:
    """Each line with an unmasked phone or a stored text, saying which."""
    found = []
    texts = None
    for source, line in lines:
        phone = PHONE.search(line)
        if phone:
            found.append(f"[{source}] phone {phone.group()!r} in: {line[:300]}")
            continue
        if texts is None:
            texts = stored_texts()
        for body in texts:
            if body in line:
                found.append(f"[{source}] resident text {body[:40]!r} in: {line[:300]}")
                break
    return found

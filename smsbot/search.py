"""The desk's one search box: what a dispatcher typed, read as words, a phone, an account
number or a ticket number, and the SQL that finds it in either database.

Words are found by stem, so `домофон` finds `домофона`. PostgreSQL does that itself
(`to_tsvector('russian', …)`, an expression GIN index from migration 0013). SQLite's FTS5
has no Russian stemmer and the stdlib `sqlite3` cannot register a tokenizer, so we stem in
Python with PyStemmer (the Snowball algorithms that PostgreSQL's `russian` configuration
uses, in C): the same `stem_text` is registered on every SQLite connection as the SQL
function `smsbot_stem`, which the triggers use to index a message and the queries use
through `fts_query`. The FTS5 tables are contentless (`content=''`): what they hold is the
stemmed text, not the message column, so an external-content table's `rebuild` or
`snippet` (which read the raw column back) would be wrong for them.

Only what residents and dispatchers wrote is indexed (KIND_RESIDENT, KIND_DISPATCHER): the
bot's and notices' fixed wording would make every thread match `заявка`. And a resident's
message only once it is handled (`SEARCHED`, migration 0018): stemming and indexing it in
the webhook's INSERT cost about 0.1 ms of the webhook's 0.7, spent holding SQLite's one write
lock (a fifth fewer webhooks a second), for a message that is in no conversation, so no hit
the desk could show, until the worker has handled it a few milliseconds later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from smsbot.models import IN_RECEIVED, KIND_DISPATCHER, KIND_RESIDENT

SEARCHED_KINDS = (KIND_RESIDENT, KIND_DISPATCHER)
"""Message kinds the search indexes (the triggers and the PostgreSQL index say the same)."""
SEARCHED = f"{{table}}.kind IN {SEARCHED_KINDS!r} AND {{table}}.status <> '{IN_RECEIVED}'"
"""The messages in the index, as SQL on `{table}` (the predicate of migration 0018's
PostgreSQL index and SQLite triggers): a searched kind, and no longer waiting to be handled."""
MAX_QUERY = 200
"""A longer query is cut: nobody types more, and it bounds the work of one search."""
MAX_WORDS = 8
TICKET_NUMBER_DIGITS = 7
"""A bare number this short may be a ticket's; longer ones are phones or account numbers."""
PHONE_DIGITS = 4
"""At least this many digits before a query is compared with phones (fewer match everyone)."""
FTS_TABLES = ("message_fts", "ticket_fts")
"""SQLite's FTS5 tables (migration 0013); each has shadow tables named after it."""
PG_INDEXES = ("ix_message_search", "ix_ticket_search")
"""PostgreSQL's GIN expression indexes (migration 0013)."""

_WORD = re.compile(r"[^\W_]+")
_TICKET = re.compile(r"^\s*(?:№|#|n|no\.?|заявка)\s*(\d{1,7})\s*$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^[\d\s()+\-.]+$")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("russian")


def words(text: str | None) -> list[str]:
    """Lower-case words with ё as е, the way both databases' indexes see them."""
    return _WORD.findall((text or "").lower().replace("ё", "е"))


def stem_text(text: str | None) -> str:
    """The text as the SQLite index holds it: each word's Russian stem, space-separated.

    Latin words and numbers pass through lower-cased (the Russian stemmer leaves them be).
    """
    return " ".join(_stemmer().stemWords(words(text)))


@dataclass(frozen=True)
class Query:
    """What a dispatcher typed into the search box, read every way it could be meant."""

    raw: str
    words: tuple[str, ...]
    """Words to find in message texts and addresses (at most MAX_WORDS)."""
    digits: str | None
    """The digits, when the query looks like a phone or account number."""
    ticket_number: int | None
    """A ticket number: `№548`, `#548`, or a bare short number."""
    explicit_ticket: bool
    """Typed as a ticket number (`№548`): the desk jumps straight to it."""

    @property
    def stems(self) -> list[str]:
        return _stemmer().stemWords(list(self.words))


def parse(raw: str | None) -> Query | None:
    """Read a search box's text; None when there is nothing to look for. Pure."""
    raw = "".join(c for c in (raw or "") if c.isprintable()).strip()[:MAX_QUERY]  # no NUL for SQL
    if not raw:
        return None
    found = _TICKET.match(raw)
    if found:
        number = int(found.group(1))
        return Query(raw, (), None, number, True)
    digits = "".join(c for c in raw if c.isdigit())
    if _PHONE_CHARS.match(raw):
        number = int(digits) if digits and len(digits) <= TICKET_NUMBER_DIGITS else None
        return Query(raw, (), digits or None, number, False)
    return Query(raw, tuple(words(raw)[:MAX_WORDS]), None, None, False)


def fts_query(query: Query) -> str:
    """An FTS5 MATCH string: every stem must occur (quoted, so no word is read as syntax)."""
    return " ".join(f'"{stem}"' for stem in query.stems)


def address_matches(query: Query, address: str) -> bool:
    """Every word of the query starts a word of the address, by stem (`ленина` in `ул. Ленина, 5`)."""
    stems = _stemmer().stemWords(words(address))
    return bool(query.words) and all(
        any(word.startswith(stem) for word in stems) for stem in query.stems
    )

"""Count how many SMS segments a text will be billed as, before we send it.

Why this exists: Twilio bills every *segment*, not every message, and the segment size depends
on the encoding the carrier has to use. A reply that is pure GSM-7 (Latin letters, digits, common
punctuation) fits 160 characters in one SMS; a single Cyrillic letter, emoji or even a backtick
switches the whole message to UCS-2 and the limit drops to 70. Almost everything our residents
and the managing company write is Russian, so replies are UCS-2 and a "short" 100-character
answer already costs two segments. Templates and outgoing replies are checked against a segment
budget with :func:`measure` / :func:`fits` so costs are predictable and long texts can be trimmed
or split on our side rather than by the carrier.

The rules follow 3GPP TS 23.038 and Twilio's own segment calculator (checked against the shared
conformance vectors in ``shared/testdata/segments.json``):

* GSM-7: characters of the default alphabet take one septet; characters of the extension table
  (``€ [ ] { } ^ ~ | \\`` and form feed) take two (escape + char). One segment holds 160 septets;
  a concatenated message holds 153 per segment (7 septets go to the UDH) and an escape pair is
  never split across two segments, so a segment may carry only 152.
* UCS-2: anything outside GSM-7 forces the whole message to UCS-2, counted in UTF-16 code units
  (an emoji outside the BMP is a surrogate pair = 2 units). One segment holds 70 units, a
  concatenated message 67 per segment, and a surrogate pair is never split across segments.
* Extension characters inside a UCS-2 message are ordinary characters (1 unit each).
* The empty text is still one (empty) GSM-7 segment: sending it costs one SMS.

The module is pure (no I/O) and ``measure`` is O(n): membership tests against precomputed
frozensets plus C-level ``str`` methods, and a per-character loop only when a long message
contains double-width characters that could straddle a segment boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "GSM7",
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Measure",
    "UCS2",
    "fits",
    "measure",
]

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# 3GPP TS 23.038 default alphabet, in code order 0x00..0x7F (0x1B, the escape, is left out: it is
# not a character a user can type). The Greek capitals are the real Greek code points (U+0394...),
# not look-alikes such as U+2126 OHM SIGN, which is not GSM-7.
GSM7_BASIC: Final[frozenset[str]] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Extension table: each one is sent as ESC + code, i.e. two septets.
GSM7_EXTENSION: Final[frozenset[str]] = frozenset("\f^{}\\[~]|€")

_GSM7_ALL: Final[frozenset[str]] = GSM7_BASIC | GSM7_EXTENSION

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67


@dataclass(frozen=True, slots=True)
class Measure:
    """How a text will travel as SMS.

    ``units`` is the raw size in the chosen encoding (septets for GSM-7, UTF-16 code units for
    UCS-2), without the padding that boundary rules add. ``per_segment`` is the capacity that was
    applied: the single-message limit when ``segments == 1``, the concatenated limit otherwise.
    ``non_gsm`` lists (sorted, unique) the characters that forced UCS-2, which is what an editor
    of a template wants to know when a message suddenly costs twice as much.
    """

    encoding: Encoding
    segments: int
    units: int
    per_segment: int
    non_gsm: tuple[str, ...] = ()

    @property
    def is_gsm7(self) -> bool:
        return self.encoding == GSM7

    @property
    def is_multipart(self) -> bool:
        return self.segments > 1


def _pack(weights: list[int], capacity: int) -> int:
    """Greedy packing of indivisible items (1 or 2 units wide) into segments of ``capacity``."""
    segments = 1
    used = 0
    for w in weights:
        if used + w > capacity:
            segments += 1
            used = 0
        used += w
    return segments


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def measure(text: str) -> Measure:
    """Return encoding, segment count, size in units and per-segment capacity for ``text``."""
    chars = set(text)
    if chars <= _GSM7_ALL:
        ext = chars & GSM7_EXTENSION
        septets = len(text) + (sum(text.count(c) for c in ext) if ext else 0)
        if septets <= GSM7_SINGLE:
            return Measure(GSM7, 1, septets, GSM7_SINGLE)
        if not ext:
            return Measure(GSM7, _ceil_div(septets, GSM7_MULTI), septets, GSM7_MULTI)
        weights = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return Measure(GSM7, _pack(weights, GSM7_MULTI), septets, GSM7_MULTI)

    non_gsm = tuple(sorted(chars - _GSM7_ALL))
    # UTF-16 length: one unit per BMP char, two per astral char. ``surrogatepass`` keeps a lone
    # surrogate (impossible over a webhook, possible in Python) countable instead of raising.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units <= UCS2_SINGLE:
        return Measure(UCS2, 1, units, UCS2_SINGLE, non_gsm)
    if units == len(text):  # BMP only: no surrogate pairs that could straddle a boundary
        return Measure(UCS2, _ceil_div(units, UCS2_MULTI), units, UCS2_MULTI, non_gsm)
    weights = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return Measure(UCS2, _pack(weights, UCS2_MULTI), units, UCS2_MULTI, non_gsm)


def fits(text: str, budget_segments: int) -> bool:
    """True when ``text`` can be sent in at most ``budget_segments`` segments."""
    return measure(text).segments <= budget_segments

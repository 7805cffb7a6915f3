"""Tests for smsbot.providers.smpp.reassembly: parts in any order, duplicates, timeouts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smsbot.providers.smpp.parts import split
from smsbot.providers.smpp.reassembly import Reassembler, decode_text, split_header

TEXT = (
    "Здравствуйте! В подъезде №3 не работает лифт с утра, просьба прислать мастера сегодня. Кв. 45"
)


def _parts(text: str, ref: int = 5) -> list[tuple[int, int, bytes]]:
    return [(p.data_coding, p.esm_class, p.short_message) for p in split(text, ref=ref)]


def _add(r: Reassembler, part, sender: str = "79851234567", now: float = 0.0, tlvs=None):
    coding, esm, data = part
    return r.add(
        sender=sender, data_coding=coding, esm_class=esm, short_message=data, now=now, tlvs=tlvs
    )


def test_single_message() -> None:
    (part,) = _parts("Баланс")
    text = _add(Reassembler(), part)
    assert text is not None and text.text == "Баланс" and text.parts == 1 and not text.incomplete


def test_out_of_order_and_duplicates() -> None:
    parts = _parts(TEXT)
    assert len(parts) == 2
    r = Reassembler()
    assert _add(r, parts[1]) is None
    assert _add(r, parts[1]) is None  # a redelivered part
    done = _add(r, parts[0])
    assert done is not None and done.text == TEXT and done.parts == 2
    assert len(r) == 0
    assert _add(r, parts[0]) is None  # a late duplicate starts a new wait, handed over later...
    (late,) = r.expire(now=10_000)
    assert late.incomplete


def test_two_senders_same_reference_do_not_mix() -> None:
    a, b = _parts(TEXT), _parts(TEXT.upper())
    r = Reassembler()
    assert _add(r, a[0], sender="1") is None
    assert _add(r, b[0], sender="2") is None
    assert _add(r, b[1], sender="2").text == TEXT.upper()
    assert _add(r, a[1], sender="1").text == TEXT


def test_timeout_hands_over_what_came() -> None:
    parts = _parts("ж" * 200)  # three parts
    r = Reassembler(timeout=60)
    _add(r, parts[0], now=0)
    _add(r, parts[2], now=5)
    assert r.expire(now=59) == []
    (text,) = r.expire(now=60)
    assert text.incomplete and text.parts == 3 and text.text == "ж" * (67 + 66)


def test_sixteen_bit_reference_udh() -> None:
    body = "Привет".encode("utf-16-be")
    udh = bytes((6, 0x08, 4, 0x12, 0x34, 2, 1))
    concat, rest = split_header(0x40, udh + body)
    assert concat is not None and (concat.ref, concat.total, concat.seq) == (0x1234, 2, 1)
    r = Reassembler()
    assert r.add(sender="s", data_coding=8, esm_class=0x40, short_message=udh + body, now=0) is None
    second = bytes((6, 0x08, 4, 0x12, 0x34, 2, 2)) + ", мир".encode("utf-16-be")
    assert (
        r.add(sender="s", data_coding=8, esm_class=0x40, short_message=second, now=1).text
        == "Привет, мир"
    )


def test_sar_tlvs() -> None:
    r = Reassembler()
    tlvs = lambda seq: {0x020C: b"\x00\x07", 0x020E: b"\x02", 0x020F: bytes((seq,))}  # noqa: E731
    assert (
        r.add(sender="s", data_coding=0, esm_class=0, short_message=b"world", now=0, tlvs=tlvs(2))
        is None
    )
    done = r.add(
        sender="s", data_coding=0, esm_class=0, short_message=b"hello ", now=0, tlvs=tlvs(1)
    )
    assert done.text == "hello world"


def test_message_payload_tlv_and_one_of_one() -> None:
    concat, body = split_header(0x40, b"", {0x0424: bytes((5, 0, 3, 1, 1, 1)) + b"hi"})
    assert concat is None and body == b"hi"


def test_decodings() -> None:
    assert decode_text(0x00, b"\x5f\x1b\x65") == "§€"
    assert decode_text(0x00, "café".encode("latin-1"), "latin1") == "café"
    assert decode_text(0x01, b"abc") == "abc"
    assert decode_text(0x03, "café".encode("latin-1")) == "café"
    assert decode_text(0x08, "Ёж😀".encode("utf-16-be")) == "Ёж😀"


@given(st.text(min_size=1, max_size=600), st.randoms(use_true_random=False))
def test_any_order_gives_the_text(text: str, rnd) -> None:
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    parts = _parts(text, ref=rnd.randrange(256))
    rnd.shuffle(parts)
    r = Reassembler()
    extra = parts[:1] if len(parts) > 1 else []  # a single SMS has no reference to dedupe by
    results = [_add(r, p) for p in parts + extra]
    finished = [x for x in results if x is not None]
    assert [f.text for f in finished] == [text]

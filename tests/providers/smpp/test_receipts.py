"""Tests for smsbot.providers.smpp.receipts: receipt texts and TLVs, states, id forms."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbot.models import OUT_DELIVERED, OUT_FAILED, OUT_SENT, OUT_UNDELIVERED
from smsbot.providers.smpp.receipts import id_forms, is_receipt, our_state, parse_receipt

# cloudhopper-smpp decodeDeliverSmAsDeliveryReceipt (see test_vectors.py): decimal id in the
# text, the same id in hex in receipted_message_id.
CLOUDHOPPER_TEXT = (
    b"id:0059113978 sub:001 dlvrd:001 submit date:1002101730 done date:1002101731 "
    b"stat:DELIVRD err:000 text:@$#!%&/:"
)


def test_appendix_b_text_alone() -> None:
    r = parse_receipt(CLOUDHOPPER_TEXT)
    assert r is not None
    assert (r.message_id, r.stat, r.err) == ("0059113978", "DELIVRD", "000")
    assert r.submit_date == datetime(2010, 2, 10, 17, 30)
    assert r.done_date == datetime(2010, 2, 10, 17, 31)
    assert r.status == OUT_DELIVERED and r.final


def test_tlvs_win_and_the_text_id_still_matches() -> None:
    r = parse_receipt(CLOUDHOPPER_TEXT, {0x001E: b"38601fa\x00", 0x0427: b"\x05"})
    assert r is not None
    assert r.message_id == "38601fa"
    assert r.stat == "UNDELIV"  # message_state 5 outranks the text's word
    assert r.text_id == "0059113978"
    assert "59113978" in r.id_forms() and "38601fa" in r.id_forms()


def test_vendor_variants() -> None:
    # jasmin's test_DeliverSM_handset_ack_conversion: "Text:" capitalised, a trailing NUL.
    text = (
        "id:1891273321 sub:001 dlvrd:001 submit date:1305050826 done date:1305050826 "
        "stat:DELIVRD err:000 Text:DLVRD TO MOBILE\x00"
    )
    r = parse_receipt(text, {0x001E: b"70BA8A69\x00", 0x0427: b"\x02"})
    assert r is not None and r.message_id == "70BA8A69" and r.status == OUT_DELIVERED
    # seconds in the dates, no err, lower-case stat
    r = parse_receipt(
        "id:abc sub:1 dlvrd:0 submit date:240101120000 done date:240101120105 stat:expired"
    )
    assert r is not None and r.stat == "EXPIRED" and r.err is None
    assert r.done_date == datetime(2024, 1, 1, 12, 1, 5)


def test_no_id_is_not_a_receipt() -> None:
    assert parse_receipt(b"hello, this is a resident") is None
    assert parse_receipt(b"") is None


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("DELIVRD", OUT_DELIVERED),
        ("UNDELIV", OUT_UNDELIVERED),
        ("EXPIRED", OUT_UNDELIVERED),
        ("DELETED", OUT_UNDELIVERED),
        ("UNKNOWN", OUT_UNDELIVERED),
        ("REJECTD", OUT_FAILED),
        ("ACCEPTD", OUT_SENT),
        ("ENROUTE", OUT_SENT),
        ("GIBBERISH", OUT_UNDELIVERED),
    ],
)
def test_states(stat: str, state: str) -> None:
    assert our_state(stat) == state


def test_esm_class() -> None:
    assert is_receipt(0x04) and is_receipt(0x20) and is_receipt(0x44)
    assert not is_receipt(0x00) and not is_receipt(0x40)


def test_id_forms_hex_decimal_case_zeros() -> None:
    forms = id_forms("0059113978")
    assert forms[0] == "0059113978"
    assert {"59113978", "38601fa", "38601FA"} <= set(forms)
    assert "59113978" in id_forms("38601FA")
    assert "38601fa" in id_forms("38601FA")
    assert id_forms("a-b") == ("a-b", "A-B")


@given(st.integers(min_value=0, max_value=2**64))
def test_hex_and_decimal_meet(number: int) -> None:
    """Whatever form the resp and the receipt each used, the two sets of forms overlap."""
    for resp in (str(number), format(number, "x"), format(number, "X"), f"{number:012d}"):
        for receipt in (str(number), format(number, "x"), format(number, "X")):
            assert set(id_forms(resp)) & set(id_forms(receipt))

"""Short addresses for SMS: from the street on."""

from __future__ import annotations

import pytest

from smsbot.addresses import short_address


@pytest.mark.parametrize(
    ("address", "short"),
    [
        ("Московская обл., г. Балашиха, мкр. Заречный, ул. Молодёжная, д. 12, корп. 2",
         "ул. Молодёжная, д. 12, корп. 2"),
        ("Московская обл., г.о. Подольск, пос. Львовский, ул. Горького, д. 24", "ул. Горького, д. 24"),
        ("г. Химки, пр-т Мира, д. 7", "пр-т Мира, д. 7"),
        ("г. Химки, Ленинский проспект, 1", "Ленинский проспект, 1"),
        ("г. Химки, мкр. 5, д. 7", "мкр. 5, д. 7"),
        ("Московская обл., деревня Гадюкино, д. 7", "деревня Гадюкино, д. 7"),
        ("ул. Ленина, д. 1", "ул. Ленина, д. 1"),
        ("", ""),
    ],
)  # fmt: skip
def test_short_address(address, short):
    assert short_address(address) == short

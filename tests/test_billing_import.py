"""`smsbot import-accounts`: a bad file imports nothing and names its rows; --skip-invalid
imports the good ones; a repeat import changes nothing; phones taken off an account unlink
it from them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, func, select

from smsbot import billing_import, db, residents
from smsbot.cli import main
from smsbot.models import Account, AccountCharge, AccountLink, AccountPhone, Building, Company

SAMPLE = Path(__file__).resolve().parents[1] / "docs" / "billing-sample.csv"
HEADER = "account;address;apartment;phones;balance;balance_date;bill_code;maintenance;penalty\n"


@pytest.fixture()
def company(app):  # noqa: ANN001, ANN201
    with Session(db.writer()) as session:
        session.add(Company(slug="uk-test", name="УК «Тест»"))
        session.commit()
    return "uk-test"


@pytest.fixture()
def run(app_env):  # noqa: ANN001, ANN201
    runner = CliRunner()

    def invoke(*args: str):  # noqa: ANN202
        return runner.invoke(main, ["import-accounts", *args], env=app_env, catch_exceptions=False)

    return invoke


def rows() -> dict[str, int]:
    tables = {
        "accounts": Account,
        "buildings": Building,
        "phones": AccountPhone,
        "bill lines": AccountCharge,
    }
    return {name: count(model) for name, model in tables.items()}


def count(model) -> int:  # noqa: ANN001
    with Session(db.engine()) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def write(
    tmp_path: Path, rows: list[str], name: str = "export.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding=encoding)
    return path


def test_the_sample_file_imports_and_a_repeat_changes_nothing(run, company):
    result = run(str(SAMPLE), "--company", company)
    assert result.exit_code == 0, result.output
    assert "5 accounts: 5 new, 0 updated, 0 unchanged; 2 new buildings" in result.output
    assert rows() == {"accounts": 5, "buildings": 2, "phones": 4, "bill lines": 20}
    again = run(str(SAMPLE), "--company", company)
    assert "5 accounts: 0 new, 0 updated, 5 unchanged; 0 new buildings" in again.output
    assert rows() == {"accounts": 5, "buildings": 2, "phones": 4, "bill lines": 20}


def test_a_bad_file_imports_nothing_and_names_every_bad_row(run, company, tmp_path):
    path = write(tmp_path, [
        "5012345678;ул. Ленина, д. 1;1;+79851234567;100,00;01.11.2026;1234;100;",
        "50123;ул. Ленина, д. 1;2;;100,00;01.11.2026;;;",
        "5012345680;ул. Ленина, д. 1;3;12345;100,00;01.11.2026;;;",
        "5012345681;ул. Ленина, д. 1;4;;100,005;01.11.2026;;;",
        "5012345682;ул. Ленина, д. 1;5;;100,00;01.11.2026;;90;9",
    ])  # fmt: skip
    result = run(str(path), "--company", company)
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.startswith("row ")] == [
        "row 3: account: must have 6–20 digits, has 5",
        "row 4: phones: number 1 is not a phone number (too short)",
        "row 5: balance: not a sum of money (like 3450,20)",
        "row 6: the service columns add up to 99.00, not to the balance 100.00",
    ]
    assert "4 bad rows; nothing imported" in result.output
    assert count(Account) == 0


def test_skip_invalid_imports_the_good_rows(run, company, tmp_path):
    path = write(tmp_path, [
        "5012345678;ул. Ленина, д. 1;1;+79851234567;100,00;01.11.2026;1234;100;",
        "50123;ул. Ленина, д. 1;2;;100,00;01.11.2026;;;",
    ])  # fmt: skip
    result = run(str(path), "--company", company, "--skip-invalid")
    assert result.exit_code == 0
    assert "row 3: account: must have 6–20 digits, has 5" in result.output
    assert "1 account: 1 new" in result.output and "1 bad row skipped" in result.output
    assert "; 1 new building; 0 phones unlinked; " in result.output  # one, not "1 buildings"
    assert count(Account) == 1


def test_a_bad_header_stops_before_any_row(run, company, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("account;address;balanse;balance_date\n5012345678;ул. Ленина;1;01.11.2026\n")
    result = run(str(path), "--company", company)
    assert result.exit_code == 1
    assert (
        "missing column 'balance'" in result.output and "unknown column 'balanse'" in result.output
    )


def test_unknown_company(run, app, tmp_path):
    result = run(str(SAMPLE), "--company", "nope")
    assert result.exit_code == 1 and "no company with slug 'nope'" in result.output


def test_windows_1251_and_comma_separated_files(company, tmp_path, app):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        ("account,address,balance,balance_date\n"
         '5012345678,"ул. Ленина, д. 1",\"1 234,50\",01.11.2026\n').encode("cp1251")
    )  # fmt: skip
    checked = billing_import.read(path)
    assert checked.ok and checked.rows[0].address == "ул. Ленина, д. 1"
    assert checked.rows[0].balance == Decimal("1234.50")


def test_a_changed_row_updates_and_a_removed_phone_unlinks(company, tmp_path, app):
    first = write(tmp_path, [
        "5012345678;ул. Ленина, д. 1;1;+79851234567, +79161234567;100,00;01.11.2026;1234;100;",
    ])  # fmt: skip
    with Session(db.writer()) as session:
        target = session.exec(select(Company).where(Company.slug == company)).one()
        billing_import.load(session, target, billing_import.read(first).rows)
        for phone in ("+79851234567", "+79161234567"):
            residents.link_from_billing(session, residents.get_or_create(session, phone))
        session.commit()
    assert count(AccountLink) == 2
    second = write(tmp_path, [
        "5012345678;ул. Ленина, д. 1;1;+79851234567;130,50;01.12.2025;1234;100;30,50",
    ], name="december.csv")  # fmt: skip
    with Session(db.writer()) as session:
        target = session.exec(select(Company).where(Company.slug == company)).one()
        stats = billing_import.load(session, target, billing_import.read(second).rows)
        session.commit()
    assert (stats.created, stats.updated, stats.unchanged, stats.unlinked) == (0, 1, 0, 1)
    with Session(db.engine()) as session:
        account = session.exec(select(Account)).one()
        assert account.balance == Decimal("130.50")
        charges = dict(session.exec(select(AccountCharge.service, AccountCharge.amount)).all())
        assert charges == {"maintenance": Decimal("100.00"), "penalty": Decimal("30.50")}
        assert session.exec(select(AccountPhone.phone)).all() == ["+79851234567"]
    assert count(AccountLink) == 1


def test_accounts_missing_from_a_file_keep_their_phones_and_lines(company, tmp_path, app):
    both = write(tmp_path, [
        "5012345678;ул. Ленина, д. 1;1;+79851234567;100,00;01.11.2026;1234;100;",
        "5012345679;ул. Ленина, д. 1;2;+79161234567;50,00;01.11.2026;1234;50;",
    ])  # fmt: skip
    one = write(
        tmp_path,
        ["5012345678;ул. Ленина, д. 1;1;+79851234567;120,00;01.12.2026;1234;120;"],
        name="one.csv",
    )
    with Session(db.writer()) as session:
        target = session.exec(select(Company).where(Company.slug == company)).one()
        billing_import.load(session, target, billing_import.read(both).rows)
        stats = billing_import.load(session, target, billing_import.read(one).rows)
        session.commit()
    assert (stats.created, stats.updated, stats.unchanged) == (0, 1, 0)
    assert rows() == {"accounts": 2, "buildings": 1, "phones": 2, "bill lines": 2}

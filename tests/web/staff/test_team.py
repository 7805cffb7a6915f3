"""Staff management in the browser and sessions that end on the server (smsbot.web.team,
smsbot.web.auth): a copied cookie dies on sign-out, an admin manages only their company."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import Company, CompanyNumber, StaffChange, User
from tests.web.staff.conftest import post, sign_in


def copy_of(app, client):  # noqa: ANN001, ANN201
    """A second client holding the same session cookie, as a thief with a copy would."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def user(login: str) -> User:
    with Session(db.engine()) as session:
        return session.exec(select(User).where(User.login == login)).one()


def flashes(response) -> str:  # noqa: ANN001
    return " ".join(
        re.findall(r'<p class="flash [a-z]+">([^<]*)</p>', response.get_data(as_text=True))
    )


def test_a_copied_cookie_dies_when_its_owner_signs_out(app, signed_in):
    olga = signed_in("olga")
    thief = copy_of(app, olga)
    other_browser = signed_in("olga")
    assert thief.get("/inbox").status_code == 200  # the copy works while the session lives
    assert post(olga, "/logout").status_code == 302
    assert thief.get("/inbox").status_code == 302
    assert thief.get("/inbox/live", headers={"Accept": "application/json"}).status_code == 401
    assert other_browser.get("/inbox").status_code == 200  # only that one session ended


def test_an_admin_adds_a_dispatcher_who_signs_in_and_disabling_ends_the_session(app, signed_in):
    igor = signed_in("igor")
    page = post(igor, "/staff", {"name": "Вера Новикова", "login": "vera", "role": "dispatcher",
                                 "phone": "8 916 123-45-67"}, follow_redirects=True)  # fmt: skip
    [password] = re.findall(r"vera[^:]*: ([a-z0-9]{14})", flashes(page))
    vera = app.test_client()
    assert sign_in(vera, "vera", password).status_code == 302
    assert vera.get("/inbox").status_code == 200
    created = user("vera")
    assert created.phone == "+79161234567" and created.role == "dispatcher"

    page = post(igor, f"/staff/{created.id}/disable", follow_redirects=True)
    assert "vera" in flashes(page)
    assert vera.get("/inbox").status_code == 302
    assert sign_in(app.test_client(), "vera", password).status_code == 401

    post(igor, f"/staff/{created.id}/enable")
    assert sign_in(app.test_client(), "vera", password).status_code == 302
    with Session(db.engine()) as session:
        log = session.exec(select(StaffChange.action, StaffChange.target, StaffChange.actor_id)
                           .order_by(StaffChange.id)).all()  # fmt: skip
    assert [(a, t) for a, t, _ in log] == [
        ("added", "vera"),
        ("disable", "vera"),
        ("enable", "vera"),
    ]
    assert {actor for _, _, actor in log} == {user("igor").id}
    assert "Вера Новикова" in igor.get("/staff").get_data(as_text=True)


def test_a_password_reset_and_ending_sessions(app, signed_in):
    igor, olga = signed_in("igor"), signed_in("olga")
    olga_id = user("olga").id
    post(igor, f"/staff/{olga_id}/sessions")
    assert olga.get("/inbox").status_code == 302
    olga = signed_in("olga")
    page = post(igor, f"/staff/{olga_id}/password", follow_redirects=True)
    [password] = re.findall(r"olga[^:]*: ([a-z0-9]{14})", flashes(page))
    assert olga.get("/inbox").status_code == 302
    assert sign_in(app.test_client(), "olga", password).status_code == 302


def test_an_admin_touches_only_their_own_company(app, signed_in, staff):
    boris = signed_in("boris")  # the other company's admin
    olga = staff.users["olga"]
    for action in ("disable", "password", "sessions", "phone"):
        assert post(boris, f"/staff/{olga}/{action}", {"phone": "+79160000000"}).status_code == 404
    after = user("olga")
    assert after.active and after.phone is None
    assert signed_in("olga").get("/inbox").status_code == 200
    assert signed_in("olga").get("/staff").status_code == 403  # dispatchers manage no one
    root = signed_in("root")
    post(root, "/company", {"company_id": str(staff.zarechye)})  # acting for Заречье
    assert post(root, f"/staff/{staff.users['inspector']}/disable").status_code == 404
    assert user("inspector").active  # not a company role: never managed from this page
    page = post(signed_in("igor"), "/staff", {"name": "X", "login": "x", "role": "superadmin"},
                follow_redirects=True)  # fmt: skip
    assert "Выберите роль" in flashes(page)
    assert "x" not in {u.login for u in _all_users()}


def _all_users() -> list[User]:
    with Session(db.engine()) as session:
        return list(session.exec(select(User)))


def test_a_superadmin_adds_a_company_and_its_numbers(app, signed_in, staff):
    root = signed_in("root")
    post(root, "/companies", {"name": "УК «Восход»", "slug": "uk-voskhod"})
    with Session(db.engine()) as session:
        company = session.exec(select(Company).where(Company.slug == "uk-voskhod")).one()
    page = post(root, f"/companies/{company.id}/numbers",
                {"phone": "+7 985 000-11-22", "provider": "no-such"}, follow_redirects=True)  # fmt: skip
    assert "no-such" in flashes(page)
    post(
        root, f"/companies/{company.id}/numbers", {"phone": "+7 985 000-11-22", "label": "основной"}
    )
    with Session(db.engine()) as session:
        [number] = session.exec(select(CompanyNumber).where(CompanyNumber.company_id == company.id))
        actions = session.exec(select(StaffChange.action).order_by(StaffChange.id)).all()
    assert number.phone == "+79850001122" and number.provider is None
    assert actions == ["company added", "number added"]
    assert "+79850001122" in root.get("/companies").get_data(as_text=True)
    assert signed_in("igor").get("/companies").status_code == 403
    post(root, f"/numbers/{number.id}/delete")
    with Session(db.engine()) as session:
        assert session.get(CompanyNumber, number.id) is None

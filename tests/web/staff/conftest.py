"""Staff fixtures: users of every role in the two demo companies, and a client that signs in
and sends forms with their CSRF token, as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

PASSWORD = "correct-horse-battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture()
def app(app_env):  # noqa: ANN001, ANN201
    """The app without an app context held open around the test.

    The shared fixture keeps one context for the whole test, so Flask would reuse it (and
    its `g`: the signed-in user, the CSRF token, the database session) for every request.
    Browsers get a fresh context per request; so do these tests.
    """
    from app import create_app

    application = create_app(app_env)
    application.config["TESTING"] = True
    return application


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):  # noqa: ANN001, ANN201
    """scrypt costs 0.1 s a hash by design; tests make dozens of users."""
    from smsbot import users

    monkeypatch.setattr(users, "HASH_METHOD", "pbkdf2:sha256:1000")


@dataclass
class Staff:
    """Ids of the demo companies and of one user per role (logins are the keys)."""

    zarechye: int
    solnechny: int
    users: dict[str, int]


STAFF = [
    ("olga", "Ольга Петрова", "dispatcher", "uk-zarechye"),
    ("igor", "Игорь Смирнов", "company_admin", "uk-zarechye"),
    ("anna", "Анна Кузнецова", "dispatcher", "uk-solnechny"),
    ("boris", "Борис Орлов", "company_admin", "uk-solnechny"),
    ("inspector", "Инспектор", "inspector", None),
    ("root", "Администратор", "superadmin", None),
]


def make_staff() -> Staff:
    from smsbot import db, users
    from smsbot.models import Company

    with Session(db.engine()) as session:
        companies = {c.slug: c.id for c in session.exec(select(Company))}
        ids = {}
        for login, name, role, slug in STAFF:
            user = users.create_user(session, login=login, name=name, password=PASSWORD, role=role,
                                     company_id=companies.get(slug) if slug else None)  # fmt: skip
            ids[login] = user.id
        session.commit()
    return Staff(companies["uk-zarechye"], companies["uk-solnechny"], ids)


@pytest.fixture()
def staff(demo) -> Staff:  # noqa: ANN001
    return make_staff()


def csrf_token(client) -> str:  # noqa: ANN001
    """The token a page would carry for this client's session."""
    page = client.get("/login")
    if page.status_code == 302:
        page = client.get("/notices")
    return CSRF_META.search(page.get_data(as_text=True)).group(1)


def sign_in(client, login: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    return client.post(
        "/login", data={"login": login, "password": password, "csrf_token": csrf_token(client)}
    )


def post(client, path: str, data: dict | None = None, **kwargs):  # noqa: ANN001, ANN003, ANN201
    """POST a form as the browser would: with the page's CSRF token."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


@pytest.fixture()
def signed_in(app, staff):  # noqa: ANN001, ANN201
    """A factory of test clients signed in as the given login."""

    def make(login: str):  # noqa: ANN202
        client = app.test_client()
        response = sign_in(client, login)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture()
def live_staff(live_env):  # noqa: ANN001, ANN201
    """The app over real HTTP (sending through the fake Twilio), with demo data and staff."""
    from sqlmodel import Session

    from app import create_app
    from smsbot import db
    from standins import demo

    env, server = live_env
    application = create_app(env)
    application.config["TESTING"] = True
    server.start(application)
    with Session(db.engine()) as session:
        demo.seed(session)
        session.commit()
    return application, make_staff()

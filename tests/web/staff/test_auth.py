"""Signing in and out: hashed passwords, throttling, expiry, CSRF, cookie flags, headers."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from smsbot import db, users
from smsbot.exceptions import Refused
from smsbot.models import User
from tests.web.staff.conftest import PASSWORD, csrf_token, post, sign_in


def test_passwords_are_stored_hashed(app, staff):
    with Session(db.engine()) as session:
        user = session.exec(select(User).where(User.login == "olga")).one()
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("pbkdf2:")


def test_sign_in_and_out(client, staff):
    assert client.get("/inbox").status_code == 302
    response = sign_in(client, "OLGA ")  # logins ignore case and stray spaces
    assert response.status_code == 302
    page = client.get("/inbox")
    assert page.status_code == 200 and "Ольга Петрова" in page.get_data(as_text=True)

    assert client.get("/logout").status_code == 405  # a link cannot sign anyone out
    assert client.post("/logout").status_code == 400  # nor a form from another site (no CSRF token)
    response = post(client, "/logout")
    assert response.status_code == 302
    assert client.get("/inbox").status_code == 302


def test_wrong_password_says_nothing_about_the_login(client, staff):
    wrong_password = sign_in(client, "olga", "nope-nope-nope")
    unknown_login = sign_in(client, "nobody", "nope-nope-nope")
    assert wrong_password.status_code == unknown_login.status_code == 401
    text = "Неверный логин или пароль"
    assert text in wrong_password.get_data(as_text=True) and text in unknown_login.get_data(
        as_text=True
    )


def test_failed_sign_ins_are_throttled_per_login_and_address(app, staff):
    client = app.test_client()
    for _ in range(users.THROTTLE_LIMITS["pair"]):
        assert sign_in(client, "olga", "wrong-password").status_code == 401
    locked = sign_in(client, "olga")  # even the right password waits now
    assert locked.status_code == 429
    assert "Слишком много неудачных попыток" in locked.get_data(as_text=True)

    other_machine = app.test_client()
    response = other_machine.post(
        "/login",
        data={"login": "olga", "password": PASSWORD, "csrf_token": csrf_token(other_machine)},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 302  # a stranger's failures do not lock Olga out elsewhere


def test_the_throttle_is_shared_through_redis(app, staff):
    """Two web processes see the same counts: they are in Redis, not in memory."""
    from redis import Redis

    from smsbot import queues

    throttle = users.SignInThrottle(queues.connection())
    for _ in range(users.THROTTLE_LIMITS["pair"]):
        throttle.failed("olga", "127.0.0.1")
    other_process = users.SignInThrottle(Redis.from_url(app.config["SMSBOT_SETTINGS"].redis_url))
    assert 0 < other_process.retry_after("olga", "127.0.0.1") <= users.THROTTLE_WINDOW
    assert other_process.retry_after("olga", "10.0.0.9") == 0


def test_sessions_end_when_idle_or_too_old(app, signed_in):
    settings = app.config["SMSBOT_SETTINGS"]
    client = signed_in("olga")
    assert client.get("/inbox").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - settings.session_idle_minutes * 60 - 5
    assert client.get("/inbox").status_code == 302

    client = signed_in("olga")
    with client.session_transaction() as session:
        session["signed_in_at"] = int(time.time()) - settings.session_max_hours * 3600 - 5
    assert client.get("/inbox").status_code == 302


def test_polls_of_an_expired_session_get_401_not_a_login_page(app, signed_in):
    client = signed_in("olga")
    with client.session_transaction() as session:
        session["seen_at"] = 0
    response = client.get("/inbox/live")
    assert response.status_code == 401 and response.is_json


def test_a_new_password_ends_every_session(app, signed_in):
    client = signed_in("olga")
    with Session(db.engine()) as session:
        user = session.exec(select(User).where(User.login == "olga")).one()
        users.set_password(session, user, "another-long-password")
        session.commit()
    assert client.get("/inbox").status_code == 302


def test_deactivated_users_are_signed_out_and_cannot_sign_in(app, signed_in):
    client = signed_in("olga")
    with Session(db.engine()) as session:
        users.deactivate(session, session.exec(select(User).where(User.login == "olga")).one())
        session.commit()
    assert client.get("/inbox").status_code == 302
    assert sign_in(app.test_client(), "olga").status_code == 401


def test_next_only_leads_within_the_site(client, staff):
    response = client.post(
        "/login?next=//evil.example/x",
        data={"login": "olga", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/"
    post(client, "/logout")
    response = client.post(
        "/login?next=/notices",
        data={"login": "olga", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.headers["Location"] == "/notices"


def test_every_form_needs_its_csrf_token(app, signed_in, staff):
    """Every POST route but Twilio's webhooks refuses a form without the page's token."""
    client = signed_in("igor")
    tried = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith("webhooks."):
            continue
        path = rule.build(dict.fromkeys(rule.arguments, 1))[1]
        response = client.post(path, data={"lang": "en", "body": "x", "to": "done"})
        assert response.status_code == 400, (
            f"POST {path} answered {response.status_code} without a token"
        )
        assert "Форма устарела" in response.get_data(as_text=True)
        tried += 1
    assert tried >= 15


def test_webhooks_need_no_csrf_token_but_their_signature(client):
    response = client.post("/sms/outbox/inbound", data={"from": "+79851234567"})
    assert response.status_code == 403  # refused for the signature, not for CSRF


def test_security_headers_and_cookie_flags(client, staff):
    response = sign_in(client, "olga")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # http://127.0.0.1 in tests; see the https test below
    page = client.get("/inbox")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_cookies_are_secure_behind_https(app_env, staff):
    from app import create_app

    app = create_app({**app_env, "PUBLIC_BASE_URL": "https://sms.example.org"})
    client = app.test_client()
    response = sign_in(client, "olga")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-smsbot=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Strict-Transport-Security" in client.get("/login").headers


def test_language_switch_is_remembered_for_the_user(signed_in):
    client = signed_in("olga")
    assert "Входящие" in client.get("/inbox").get_data(as_text=True)
    post(client, "/language", {"lang": "en", "next": "/inbox"})
    assert "Inbox" in client.get("/inbox").get_data(as_text=True)
    with Session(db.engine()) as session:
        assert session.exec(select(User.language).where(User.login == "olga")).one() == "en"


def test_roles_need_the_right_company(app, demo):
    with Session(db.engine()) as session:
        with pytest.raises(Refused):
            users.create_user(session, login="x", name="x", password=PASSWORD, role="dispatcher")
        with pytest.raises(Refused):
            users.create_user(
                session, login="x", name="x", password=PASSWORD, role="inspector", company_id=1
            )
        with pytest.raises(Refused):
            users.create_user(session, login="x", name="x", password="short", role="superadmin")
        users.create_user(session, login="x", name="x", password=PASSWORD, role="superadmin")
        with pytest.raises(Refused):
            users.create_user(session, login="X", name="x", password=PASSWORD, role="superadmin")


def test_create_user_from_the_command_line(app_env, demo, monkeypatch):
    from click.testing import CliRunner

    from smsbot.cli import main

    for name, value in app_env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "create-user",
            "maria",
            "--role",
            "dispatcher",
            "--company",
            "uk-zarechye",
            "--name",
            "Мария",
        ],
        input="a-long-enough-password\na-long-enough-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created maria (dispatcher, uk-zarechye)" in result.output
    with Session(db.engine()) as session:
        user = session.exec(select(User).where(User.login == "maria")).one()
    assert user.name == "Мария" and user.role == "dispatcher" and user.company_id is not None

    result = runner.invoke(
        main,
        [
            "create-user",
            "x",
            "--role",
            "dispatcher",
            "--company",
            "nope",
            "--password",
            "a-long-enough-password",
        ],
    )
    assert (
        result.exit_code != 0
        and "no company 'nope'; there are: uk-solnechny, uk-zarechye" in result.output
    )
    result = runner.invoke(main, ["create-user", "y", "--role", "inspector", "--password", "short"])
    assert result.exit_code != 0 and "at least 10 characters" in result.output

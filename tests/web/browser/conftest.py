"""Browser tests: Playwright drives Debian's Chromium against the app served over HTTP, with
a real `smsbot worker` process and the fake Twilio server, as a dispatcher would use it.

Screenshots of the main pages go to test-artifacts/screenshots/. The browser tests run on
SQLite only (the scoping and domain tests cover PostgreSQL).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import die_with_parent, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Without the background-networking flags Chromium keeps trying to reach Google's hosts."""
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: scripts/chromium installs it (scripts/test runs it)"
        if os.environ.get("SMSBOT_BROWSER_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives every launch a fresh, empty profile (its own --user-data-dir).
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Service:
    """The app over HTTP, its worker and the fake Twilio it sends through."""

    app: object
    url: str
    env: dict[str, str]
    twilio: object
    staff: object

    @property
    def settings(self):  # noqa: ANN201
        return self.app.config["SMSBOT_SETTINGS"]

    def text(self, body: str, phone: str, to: str = "+74951230001") -> str:
        """A resident's SMS, posted to the webhook signed as Twilio signs it."""
        from smsbot import providers
        from smsbot.simulate import post_inbound

        sid, response = post_inbound(
            self.url, providers.get(self.settings), from_phone=phone, to_phone=to, body=body
        )
        assert response.status_code == 200, response.text
        return sid

    def handled(self, sid: str) -> bool:
        """Whether the worker has handled (filed in a thread) the resident SMS `sid`."""
        from sqlmodel import Session, select

        from smsbot import db
        from smsbot.models import IN_RECEIVED, Message

        with Session(db.engine()) as session:
            status = session.exec(select(Message.status).where(Message.external_id == sid)).first()
        return status not in (None, IN_RECEIVED)


def live_update(page, service: Service, sid: str) -> None:  # noqa: ANN001
    """Wait for the events a live update needs, not for a number of seconds: the worker has
    handled the SMS `sid`, then the page has sent its next poll (…/live?v=) and had the answer.
    Whatever the server knew then is on the page without a reload."""
    from tests.support import wait_until

    wait_until(lambda: service.handled(sid), timeout=30, what="the worker to handle the SMS")
    with page.expect_request(lambda r: "/live?" in r.url or "/live&" in r.url) as polled:
        pass
    polled.value.response()


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path, sqlite_template):  # noqa: ANN001, ANN201
    """SQLite only here: a copy of the migrated template."""
    import shutil

    path = tmp_path / "smsbot.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture()
def service(live_env, fake_twilio, monkeypatch):  # noqa: ANN001, ANN201
    from rq import Worker
    from sqlmodel import Session

    from app import create_app
    from smsbot import db, queues, users
    from standins import demo
    from tests.jobs.test_crashes import stop
    from tests.support import wait_until
    from tests.web.staff.conftest import make_staff

    monkeypatch.setattr(users, "HASH_METHOD", "pbkdf2:sha256:1000")
    env, server = live_env
    app = create_app(env)
    server.start(app)
    with Session(db.engine()) as session:
        demo.seed(session)
        session.commit()
    worker = subprocess.Popen(
        [sys.executable, "-m", "smsbot.cli", "worker"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    wait_until(
        lambda: Worker.all(connection=queues.connection()), timeout=30, what="the worker to listen"
    )
    try:
        yield Service(app, server.url, env, fake_twilio, make_staff())
    finally:
        stop(worker)


@pytest.fixture()
def page(browser, request):  # noqa: ANN001, ANN201
    """A fresh browser tab; any script error or CSP violation on a page fails the test."""
    context = browser.new_context(viewport=LAPTOP, locale="ru-RU")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    tab.problems = problems  # a test that expects an error page clears what it expected
    yield tab
    context.close()
    # Polls cut off when the test's server stops are not the page's fault; everything else is.
    real = [p for p in problems if not re.search(r"ERR_CONNECTION|ERR_EMPTY_RESPONSE", p)]
    assert not real, "\n".join(real)


def wait_in_page(page, expression: str, timeout: float = 30.0) -> None:  # noqa: ANN001
    """Wait until `expression` is true in the page, polled from here.

    Not Playwright's wait_for_function: when its first check is false it polls inside the
    page through `new Function`, which our Content-Security-Policy (no 'unsafe-eval')
    refuses, so such a test failed only when the page was slower than the test. An
    evaluate from here runs through the DevTools protocol, which the policy does not govern.
    """
    wait_until(lambda: page.evaluate(expression), timeout=timeout, what=expression)


def shot(page, name: str) -> Path:  # noqa: ANN001
    """Save a screenshot of the whole page under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, service: Service, login: str, password: str | None = None) -> None:  # noqa: ANN001
    from tests.web.staff.conftest import PASSWORD

    page.goto(service.url + "/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password or PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/inbox"))

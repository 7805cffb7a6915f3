"""The resident phone: an admin texts the bot through the real signed webhook."""

from __future__ import annotations

from sqlmodel import Session, select

from smsbot import db
from smsbot.models import INBOUND, Message
from tests.conftest import run_jobs
from tests.support import wait_until
from tests.web.staff.conftest import post, sign_in

PHONE = "+79031112233"


def test_texting_as_a_resident_goes_through_the_webhook_and_shows_the_replies(
    live_staff, fake_twilio
):
    app, _ = live_staff
    igor = app.test_client()
    sign_in(igor, "igor")
    page = igor.get("/phone").get_data(as_text=True)
    assert "+74951230001" in page and "+74951230002" not in page  # only the company's own numbers
    assert "+79851234567" in page  # billing phones to pick from

    response = post(
        igor, "/phone", {"phone": "8 903 111-22-33", "to": "+74951230001", "body": "помощь"}
    )
    assert response.status_code == 302 and "phone=%2B79031112233" in response.headers["Location"]
    with Session(db.engine()) as session:
        [inbound] = session.exec(select(Message).where(Message.direction == INBOUND)).all()
    assert (inbound.from_phone, inbound.to_phone, inbound.body) == (PHONE, "+74951230001", "помощь")
    assert inbound.provider == "twilio"  # stored by the number's provider's own callback

    run_jobs(app)
    fake_twilio.wait_for_messages(1, to=PHONE, timeout=20)

    def shows_delivered() -> str | None:
        html = str(igor.get(f"/phone/live?phone={PHONE}").get_json())
        return html if "БАЛАНС" in html and "доставлено" in html else None

    html = wait_until(shows_delivered, timeout=20, what="the reply delivered on the page")
    assert "помощь" in html


def test_a_bad_phone_or_a_foreign_number_is_refused(live_staff):
    app, _ = live_staff
    igor = app.test_client()
    sign_in(igor, "igor")
    response = post(
        igor, "/phone", {"phone": "12", "to": "+74951230001", "body": "x"}, follow_redirects=True
    )
    assert "Это не номер телефона" in response.get_data(as_text=True)
    response = post(
        igor, "/phone", {"phone": PHONE, "to": "+74951230002", "body": "x"}, follow_redirects=True
    )
    assert "Выберите один из SMS-номеров компании" in response.get_data(as_text=True)
    with Session(db.engine()) as session:
        assert session.exec(select(Message)).all() == []

"""Live polls: a page that already saw the current change counters is answered 204 without a
single database statement; any change of its company (a message handled, a reply's delivery
state, a conversation closed) makes the next poll look again, and another company's changes
do not."""

from __future__ import annotations

from sqlalchemy import event
from sqlmodel import Session

from smsbot import changes, db
from smsbot.models import Conversation
from tests.conftest import run_jobs
from tests.support import post_inbound, wait_until
from tests.web.staff.conftest import post
from tests.web.staff.test_inbox import NEIGHBOUR, conversation_of


class Statements:
    """Counts statements on this process's engine while installed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, conn, cursor, statement, *rest) -> None:  # noqa: ANN001
        self.texts.append(statement.split("\n", 1)[0][:80])

    def __enter__(self) -> Statements:
        event.listen(db.engine(), "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(db.engine(), "before_cursor_execute", self)


def poll(client, path: str, version: str) -> tuple[int, str, list[str]]:  # noqa: ANN001
    """One poll: its status, the version the page holds after it, the statements it cost."""
    with Statements() as counted:
        response = client.get(path, query_string={"v": version} if version else None)
    if response.status_code == 200:
        version = response.get_json()["version"]
    elif response.status_code == 204:
        version = response.headers.get("X-Live-Version", version)
    return response.status_code, version, counted.texts


def test_a_poll_with_nothing_new_costs_no_database_statement(app, signed_in):
    olga = signed_in("olga")
    for path in ("/inbox/live", "/inbox/alerts/live", "/tickets/live"):
        status, version, _ = poll(olga, path, "")
        assert status == 200
        for _ in range(3):
            status, version, statements = poll(olga, path, version)
            assert (status, statements) == (204, []), path


def test_each_change_of_the_company_makes_its_next_poll_look_again(app, signed_in, staff):
    olga, anna = signed_in("olga"), signed_in("anna")  # Zarechye, Solnechny
    _, mine, _ = poll(olga, "/inbox/live", "")
    _, theirs, _ = poll(anna, "/inbox/live", "")
    before = changes.stamp([staff.zarechye, changes.ALL])
    _, response = post_inbound(olga, app, "Течёт кран на кухне", from_phone=NEIGHBOUR)
    assert response.status_code == 200
    assert changes.stamp([staff.zarechye]) == before[:1]  # stored, not handled: nothing to show
    assert poll(olga, "/inbox/live", mine)[::2] == (204, [])
    run_jobs(app)  # handled (one batch, one commit), the acknowledgement sent and recorded
    after = changes.stamp([staff.zarechye, changes.ALL])
    assert all(int(a) > int(b) for a, b in zip(after, before, strict=True))
    status, mine, statements = poll(olga, "/inbox/live", mine)
    assert status == 200 and statements
    assert poll(anna, "/inbox/live", theirs)[::2] == (204, [])  # another company: nothing

    conversation = conversation_of(NEIGHBOUR)
    assert conversation.unread == 1
    olga.get(f"/inbox/{conversation.id}")  # the page marks it read: a Core UPDATE, noted
    with Session(db.engine()) as session:
        assert session.get(Conversation, conversation.id).unread == 0
    status, mine, _ = poll(olga, "/inbox/live", mine)
    assert status == 200 and poll(olga, "/inbox/live", mine)[::2] == (204, [])

    post(olga, f"/inbox/{conversation.id}/close")
    status, mine, statements = poll(olga, "/inbox/live", mine)
    assert status == 200 and statements  # looked again: the row left the open list
    assert f'data-key="c{conversation.id}"' not in str(
        olga.get("/inbox/live").get_json()["lists"]["conversations"]
    )
    assert poll(olga, "/inbox/live", mine)[::2] == (204, [])
    assert poll(anna, "/inbox/live", theirs)[::2] == (204, [])


def test_a_forged_or_stale_version_is_checked_against_the_database(app, signed_in):
    """Such a poll is answered as before the counters: from the database (204 only when the
    page shows exactly what it would get)."""
    olga, anna = signed_in("olga"), signed_in("anna")
    _, version, _ = poll(olga, "/inbox/live", "")
    scopes, stamps, built, digest, mac = version.split(".")
    forged = ".".join([scopes, stamps, built, digest, "0" * len(mac)])
    assert poll(olga, "/inbox/live", forged)[2]
    assert poll(anna, "/inbox/live", version)[2]  # bound to olga's session
    stale = ".".join([scopes, stamps, str(int(built) - 3600), digest, mac])
    assert poll(olga, "/inbox/live", stale)[2]
    company, staff_scope = scopes.split("_")
    other = ".".join([f"{int(company) + 1}_{staff_scope}", stamps, built, digest, mac])
    assert poll(olga, "/inbox/live", other)[2]  # another company's counter: not signed
    post(olga, "/logout")  # a signed-out page is told so at once
    assert poll(olga, "/inbox/live", version)[0] == 401


def test_the_counters_survive_losing_redis_and_callbacks_are_gathered(redis_url):
    """After Redis loses its data, a counter starts again from the clock, not from a value a
    page may already hold. Status callbacks' bumps are gathered into one."""
    from smsbot import queues

    queues.init(redis_url)
    changes.bump([7])
    [first] = changes.stamp([7])
    queues.connection().delete(changes.key(7))
    changes.bump([7])
    [again] = changes.stamp([7])
    assert again != first and int(again) > 1_000_000

    for _ in range(20):  # twenty status callbacks within a moment: one bump
        changes.bump_soon([7])
    wait_until(lambda: changes.stamp([7]) != [again], what="the gathered bump")
    assert int(changes.stamp([7])[0]) == int(again) + 1


def test_a_disabled_user_s_open_page_is_signed_out_at_its_next_poll(app, signed_in, staff):
    """However the account is changed (here a Core UPDATE through a session, as a password
    reset or disabling may be written), every page looks again at once."""
    from sqlalchemy import update

    from smsbot.db import session_scope
    from smsbot.models import User

    olga = signed_in("olga")
    _, version, _ = poll(olga, "/inbox/live", "")
    assert poll(olga, "/inbox/live", version)[::2] == (204, [])
    with session_scope() as session:
        session.execute(update(User).where(User.id == staff.users["olga"]).values(active=False))
    assert poll(olga, "/inbox/live", version)[0] == 401

"""Logs: text or JSON lines, phone numbers masked whatever wrote them, SQL parameters hidden,
and the check that fails any test whose logs hold personal data (tests/logscan.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError

from smsbot import db, logs
from smsbot.exceptions import ConfigError
from smsbot.models import Message
from tests import logscan
from tests.conftest import REPO

TWILIO_21211 = "Unable to create record: The 'To' number +79851234567 is not a valid phone number."
"""What Twilio's API says about an invalid number (its error 21211), number and all."""

SCRIPT = """
import logging
from app import create_app
create_app()
log = logging.getLogger("smsbot.example")
log.warning("sending to %s failed", "+79851234567")
try:
    raise ValueError(TWILIO_21211)
except ValueError:
    log.exception("provider said no")
""".replace("TWILIO_21211", repr(TWILIO_21211))


@pytest.fixture()
def process_env(tmp_path, redis_url) -> dict[str, str]:  # noqa: ANN001
    """A process's environment; its database is never opened (so one kind is enough)."""
    return {
        "SMSBOT_ENV": "test",
        "SMSBOT_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-0123456789",
    }


def _run(env: dict[str, str], log_format: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**os.environ, **env, "SMSBOT_LOG_FORMAT": log_format, "SMSBOT_LOG_LEVEL": "INFO"},
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    logscan.COLLECTOR.add_output(f"subprocess ({log_format})", done.stderr)
    return done.stderr.splitlines()


def test_json_lines_carry_level_logger_message_and_traceback_masked(process_env):  # noqa: ANN001
    lines = [json.loads(line) for line in _run(process_env, "json") if line.startswith("{")]
    warning, failure = lines[-2:]
    assert warning["level"] == "WARNING" and warning["logger"] == "smsbot.example"
    assert warning["message"] == "sending to +7985***4567 failed"
    assert failure["message"] == "provider said no"
    assert "The 'To' number +7985***4567 is not a valid" in failure["exc"]
    assert "79851234567" not in json.dumps(lines)


def test_text_lines_are_masked_too(process_env):  # noqa: ANN001
    out = "\n".join(_run(process_env, "text"))
    assert "WARNING smsbot.example: sending to +7985***4567 failed" in out
    assert "The 'To' number +7985***4567 is not" in out and "79851234567" not in out


def test_an_unknown_log_format_names_the_variable(process_env):  # noqa: ANN001
    from smsbot import config

    with pytest.raises(ConfigError, match="SMSBOT_LOG_FORMAT must be text or json, got 'xml'"):
        config.load({**process_env, "SMSBOT_LOG_FORMAT": "xml"})
    assert logs.log_format({"SMSBOT_LOG_FORMAT": " JSON "}) == "json"


def test_database_errors_hide_the_statements_values(app):  # noqa: ANN001
    row = {"direction": None, "status": "received", "from_phone": "+79851234567",
           "to_phone": "+74951230001", "body": "у нас течёт крыша"}  # fmt: skip
    with pytest.raises(DBAPIError) as caught, db.engine().begin() as conn:
        conn.execute(insert(Message.__table__).values(**row))
    text = str(caught.value)
    assert "hidden due to hide_parameters" in text
    assert "79851234567" not in text and "крыша" not in text


def test_the_log_check_finds_unmasked_phones_and_resident_texts(app, demo):  # noqa: ANN001
    from tests.support import post_inbound

    client = app.test_client()
    _, response = post_inbound(client, app, "у нас опять течёт крыша")
    assert response.status_code == 200
    mark = logscan.COLLECTOR.mark()
    log = logging.getLogger("smsbot.example")
    for line in ("to +79851234567", "to 89851234567 and", "to %2B79851234567",
                 "got: у нас опять течёт крыша", "to +7985***4567", "sid SMa79851234567b"):  # fmt: skip
        log.warning(line)
    found = logscan.leaks(logscan.COLLECTOR.since(mark))
    del logscan.COLLECTOR.lines[mark:]  # this test's leaks are on purpose
    assert [f.split(" in: ")[1] for f in found] == [
        "to +79851234567", "to 89851234567 and", "to %2B79851234567", "got: у нас опять течёт крыша",
    ]  # fmt: skip


def test_a_providers_error_text_is_masked_before_it_is_logged_or_stored():
    """A send error's text goes to the log and to Message.error_message, which staff see."""
    from smsbot.exceptions import PermanentSendError

    error = PermanentSendError(f"Twilio refused: {TWILIO_21211}", code=21211)
    assert str(error) == (
        "Twilio refused: Unable to create record: The 'To' number +7985***4567 is not a valid "
        "phone number."
    )

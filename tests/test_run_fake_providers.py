"""`smsbot run --fake-provider smpp|smsc`, then `smsbot sms ... баланс`, as a person would.

The whole service in its own processes (embedded Redis, SQLite, gunicorn, a worker, the
clock, the SMPP connector) talks to the provider's stand-in over the provider's real protocol
(SMPP over TCP; SMSC.ru's HTTP API and its calls to our handler URL). What is proved: the
resident's SMS comes in through the provider, the balance reply goes out through it, and its
delivery receipt reaches the dispatcher's thread page; for SMPP also that the supervisor
brings a killed connector back.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
from pathlib import Path

import pytest
import requests

from tests.support import wait_until
from tests.test_cli import Service, service_env, smsbot

pytestmark = pytest.mark.slow

DEMO_PHONE = "+79851234567"
BALANCE = "К оплате 3\u00a0450,20\u00a0₽"
"""The start of the demo resident's balance at УК «Заречье» (standins/demo.py, flat 148)."""


def reply_row(instance: Path, provider: str) -> tuple[int, str, int] | None:
    """(id, status, conversation_id) of the newest reply to the demo phone through `provider`."""
    with sqlite3.connect(instance / "smsbot.db", timeout=5) as db:
        return db.execute(
            "SELECT id, status, conversation_id FROM message WHERE direction = 'out' "
            "AND provider = ? AND to_phone = ? ORDER BY id DESC LIMIT 1",
            (provider, DEMO_PHONE),
        ).fetchone()


def sign_in(service: Service, login: str) -> requests.Session:
    """Sign in with the password `smsbot run` printed when it loaded the demo."""
    password = re.search(rf"^\s+{login}\s+(\S+)\s", service.output(), re.M).group(1)
    http = requests.Session()
    form = http.get(service.url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = http.post(
        service.url + "/login",
        data={"csrf_token": token, "login": login, "password": password},
        timeout=10,
    )
    assert answer.url.endswith("/inbox"), answer.text
    return http


def connector_pid(supervisor: int) -> int | None:
    """The `smsbot smpp` child of the supervisor, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == supervisor and argv[-3:] == [b"smsbot.cli", b"smpp", b""]:
            return int(entry.name)
    return None


def text_balance(tmp_path, env, kind: str) -> str:  # noqa: ANN001
    result = smsbot("sms", DEMO_PHONE, "баланс", "--provider", kind, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"via {kind}" in result.stdout
    assert BALANCE in result.stdout, result.stdout
    return result.stdout


@pytest.mark.parametrize("kind", ["smpp", "smsc"])
def test_balance_through_a_fake_provider(tmp_path, kind):
    env = service_env(tmp_path)
    instance = Path(env["SMSBOT_INSTANCE_PATH"])
    with Service(tmp_path, env, "--fake-provider", kind) as service:
        service.wait_until_up()
        assert f"providers: {kind} (default, fake), outbox" in service.output()

        text_balance(tmp_path, env, kind)
        reply_id, _, conversation_id = wait_until(
            lambda: (row := reply_row(instance, kind)) and row[1] == "delivered" and row,
            what=f"the {kind} delivery receipt",
        )
        thread = sign_in(service, "dispatcher").get(
            f"{service.url}/inbox/{conversation_id}", timeout=10
        )
        assert thread.status_code == 200
        assert re.search(rf'data-key="m{reply_id}"[^>]*data-status="delivered"', thread.text)

        if kind == "smpp":
            pid = wait_until(lambda: connector_pid(service.process.pid), what="the connector")
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: "smpp exited with -9" in service.output(), what="the restart")
            text_balance(tmp_path, env, kind)  # the restarted connector binds and answers
            assert wait_until(lambda: connector_pid(service.process.pid)) != pid
        output = service.stop()
    assert "smsbot stopped" in output
    assert "Traceback" not in output, output

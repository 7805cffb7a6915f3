"""The README's run command, tried as a person would: `smsbot run`, then `smsbot sms`; the
commands around it (`smsbot smpp`, `check-config`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from smsbot.runner import free_port
from tests import logscan
from tests.support import die_with_parent, wait_until

pytestmark = pytest.mark.slow


PROVIDER_VARIABLES = ("TWILIO_", "SMPP_", "SMSC_")


def service_env(tmp_path) -> dict[str, str]:  # noqa: ANN001
    """This environment without the service's own variables: a fresh instance folder, the
    embedded Redis, SQLite, and no provider account but the ones a test names."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIS_", "DATABASE_", "SMSBOT_", "PUBLIC_", *PROVIDER_VARIABLES))
    }
    env["SMSBOT_LOG_LEVEL"] = "WARNING"
    env["SMSBOT_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def smsbot(*args: str, cwd, env, timeout: float = 60) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run(
        [sys.executable, "-m", "smsbot.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Service:
    """`smsbot run` in the background; its output goes to a file the test can read meanwhile."""

    def __init__(self, tmp_path, env, *flags: str):  # noqa: ANN001
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "run.log"
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "smsbot.cli", "run", "--port", str(self.port),
                 "--workers", "1", "--web-workers", "2", *flags],
                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                preexec_fn=die_with_parent,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text()

    def wait_until_up(self, timeout: float = 60) -> None:
        """Until it says it is running and its web server answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (
                    "smsbot is running" in self.output()
                    and requests.get(self.url + "/healthz", timeout=1).status_code == 200
                ):
                    return
            except requests.RequestException:
                pass
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "smsbot run did not come up:\n" + self.output()
            time.sleep(0.3)

    def stop(self) -> str:
        """Ctrl-C, as a person stops it; its whole output."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        if self.process.poll() is None:
            self.stop()


@pytest.mark.parametrize("flags", [[], ["--fake-twilio"]], ids=["outbox", "fake-twilio"])
def test_run_then_text_the_bot(tmp_path, flags):
    env = service_env(tmp_path)
    with Service(tmp_path, env, *flags) as service:
        service.wait_until_up()

        result = smsbot("sms", "+79851234567", "помощь", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "БАЛАНС, ДОЛГ, ТЕЛЕФОНЫ" in result.stdout
        # shown once the provider took it: the delivery report may come a moment later
        assert "[sent, " in result.stdout or "[delivered, " in result.stdout

        result = smsbot("sms", "8 916 123-45-67", "Когда починят лифт?", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "передано диспетчеру" in result.stdout

        if not flags:
            # an opted-out phone gets nothing, and the player says so instead of "inbox"
            assert (
                "Вы отписались"
                in smsbot("sms", "+79161234567", "стоп", cwd=tmp_path, env=env).stdout
            )
            result = smsbot("sms", "+79161234567", "баланс", cwd=tmp_path, env=env)
            assert result.returncode == 0, result.stderr
            assert "(no reply: this phone has opted out with СТОП" in result.stdout
            outbox = smsbot("outbox", "-n", "5", cwd=tmp_path, env=env)
            assert "+79161234567" in outbox.stdout
            # the clock's jobs, run by hand against the same service
            stats = smsbot("ticket-stats", "--rebuild", cwd=tmp_path, env=env)
            assert stats.returncode == 0 and "day rows written" in stats.stdout, stats.stderr
            assert int(stats.stdout.split()[0]) > 100  # four months of demo history
            clock = smsbot("deadlines", cwd=tmp_path, env=env)
            assert clock.returncode == 0 and "'overdue'" in clock.stdout, clock.stderr
        else:  # gunicorn's two workers and the RQ worker counted into one folder
            scraped = wait_until(
                lambda: (
                    (found := scrape_metrics(service.url))
                    and found.get('smsbot_send_seconds_count{provider="twilio"}', 0) >= 2
                    and found
                ),
                what="the worker's send timings in /metrics",
            )
            assert scraped['smsbot_messages_in_total{provider="twilio"}'] == 2
            assert scraped['smsbot_delivery_states_total{provider="twilio",state="delivered"}'] >= 1
        output = service.stop()
    logscan.COLLECTOR.add_output("smsbot run", "\n".join(logged_lines(output)))
    assert "Demo data loaded" in output
    if flags:
        assert "providers: twilio (default, fake), outbox" in output
    else:
        assert "providers: outbox (default)" in output
    assert "smsbot stopped" in output
    assert "Traceback" not in output, output


def test_it_says_running_only_once_the_web_server_answers(tmp_path):
    """The README says: start it, then play a resident in another terminal. granian binds its
    port only after its workers imported the app, so "running" waits for it."""
    with Service(tmp_path, service_env(tmp_path)) as service:
        wait_until(
            lambda: "smsbot is running" in service.output(), timeout=90, what="the running line"
        )
        assert requests.get(service.url + "/healthz", timeout=5).status_code == 200


def test_the_web_servers_access_log_leaves_out_the_query(tmp_path):
    """A provider calling back with GET (SMSC.ru can) puts the resident's number and text in
    the query: the access line names the path and the answer, never the query."""
    env = service_env(tmp_path)
    with Service(tmp_path, env) as service:
        service.wait_until_up()
        answer = requests.get(service.url + "/healthz?phone=79161234567&mes=secret", timeout=5)
        assert answer.status_code == 200
        line = wait_until(
            lambda: next((ln for ln in service.output().splitlines() if "/healthz" in ln), None),
            what="the access line",
        )
        output = service.stop()
    assert re.search(r'"GET /healthz HTTP/1\.1" 200 \d+ms', line), line
    assert "79161234567" not in output and "secret" not in output


def scrape_metrics(url: str) -> dict[str, float]:
    """/metrics from this machine (no METRICS_TOKEN: loopback only), sample by sample."""
    answer = requests.get(url + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in answer.text.splitlines()
        if line and not line.startswith("#")
    }


def logged_lines(output: str) -> list[str]:
    """The log lines in `smsbot run`'s output (its own console lines, the demo's passwords
    and the "Try: smsbot sms +7…" hint, are for the person at the terminal)."""
    return [line for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d |\S+ \[", line)]


def test_sms_without_a_running_service_says_so(tmp_path):
    env = service_env(tmp_path)
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    assert smsbot("migrate", cwd=tmp_path, env=env).returncode == 0
    result = smsbot("sms", "+79851234567", "помощь", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "does not answer" in result.stderr


def test_smpp_refuses_without_an_smpp_account(tmp_path):
    result = smsbot("smpp", cwd=tmp_path, env=service_env(tmp_path))
    assert result.returncode != 0
    assert "no SMPP account is configured" in result.stderr
    assert "SMPP_HOST" in result.stderr


def test_check_config_lists_every_provider(tmp_path):
    env = service_env(tmp_path) | {
        "SMPP_HOST": "127.0.0.1", "SMPP_SYSTEM_ID": "smsbot", "SMPP_PASSWORD": "pw4smpp",
        "SMPP_SOURCE": "+74951230001", "SMSC_LOGIN": "demo", "SMSC_PASSWORD": "pw4smsc",
        "SMSC_SENDER": "+74951230002", "SMSBOT_DEFAULT_PROVIDER": "smpp",
    }  # fmt: skip
    result = smsbot("check-config", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "(default: smpp)" in result.stdout
    assert "smpp (smpp): receives over its connection (smsbot smpp)" in result.stdout
    assert "smsc (smsc): callbacks http://127.0.0.1:5000/sms/smsc/inbound" in result.stdout
    assert "outbox (outbox)" in result.stdout
    assert "pw4smpp" not in result.stdout and "pw4smsc" not in result.stdout


def test_run_refuses_two_different_fakes(tmp_path):
    result = smsbot(
        "run", "--fake-twilio", "--fake-provider", "smpp", cwd=tmp_path, env=service_env(tmp_path)
    )
    assert result.returncode == 2
    assert "--fake-twilio is --fake-provider twilio" in result.stderr

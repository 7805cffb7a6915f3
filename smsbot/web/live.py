"""Answering a page's once-a-second poll, cheaply when nothing changed.

A page polls its `/live` address with the version it holds. The version names the change
counters its answer was built from (smsbot.changes: one per company it shows), when it was
built, a digest of what it showed, and a signature binding all that to the signed-in
session. When those counters still stand, the poll is answered 204 from Redis alone,
before the user or anything else is loaded from the database (`quiet`). Otherwise the view
builds its payload as before; if the payload is what the page already shows, the answer is
still 204, carrying the new version in a header.

A 204 shows nothing, so answering it from the signed cookie alone risks nothing: a page of
a user disabled a moment ago learns nothing new, and its next full check (at most
FULL_CHECK_SECONDS later, or at once when anything in the company changed) signs it out.
The full check also catches changes no counter announced (Redis was down at the moment).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from flask import current_app, g, jsonify, request, session
from redis.exceptions import RedisError

from smsbot import changes

FULL_CHECK_SECONDS = 30
"""A page is answered from its database at least this often, changed or not."""
HEADER = "X-Live-Version"
"""The new version of a 204 answer (the page had the content, not its version)."""
_SEP = "."


def _mac(parts: list[str]) -> str:
    material = "|".join(
        [str(session.get("_user_id", "")), str(session.get("company_id", "")), *parts]
    )
    key = str(current_app.secret_key).encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:20]


def _version(scopes: list, stamps: list[str] | None, digest: str, built: int) -> str:
    parts = ["_".join(map(str, scopes)), "_".join(stamps or ["x"]), str(built), digest]
    return _SEP.join([*parts, _mac(parts)])


def _fresh_session(now: float) -> bool:
    """Signed in, and neither idle nor past its length (as auth.check_session judges)."""
    settings = current_app.config["SMSBOT_SETTINGS"]
    seen = session.get("seen_at", 0)
    return (
        bool(session.get("_user_id"))
        and now - session.get("signed_in_at", 0) <= settings.session_max_hours * 3600
        and now - seen <= min(settings.session_idle_minutes * 60, 60)
    )


def quiet() -> Any:
    """Before every request: a poll whose counters still stand gets 204, no database read.

    Anything else (no version, a stale or forged one, a session to refresh, Redis down)
    goes on to the view. A session seen over a minute ago goes on too, so its last-use
    time is refreshed as any request's is.
    """
    if request.method != "GET" or not request.path.endswith("/live"):
        return None
    parts = request.args.get("v", "").split(_SEP)
    if len(parts) != 5 or not parts[0]:
        return None
    scopes, stamps, built, digest, mac = parts
    now = time.time()
    if not built.isdigit() or not 0 <= now - int(built) < FULL_CHECK_SECONDS:
        return None
    if not hmac.compare_digest(mac, _mac([scopes, stamps, built, digest])):
        return None
    if not _fresh_session(now):
        return None
    try:
        current = changes.stamp(scopes.split("_"))
    except RedisError:
        return None
    if "_".join(current) != stamps:
        return None
    return "", 204, {"Cache-Control": "no-store"}


def remember_stamp(company_ids: list[int] | None) -> None:
    """Read the counters before the view reads the database: a change committed meanwhile
    leaves the page a version older than it, so the next poll looks again."""
    scopes = changes.scopes_of(company_ids)
    g.live_scopes = scopes
    try:
        g.live_stamps = changes.stamp(scopes)
    except RedisError:
        g.live_stamps = None


def answer(payload: dict[str, Any]) -> Any:
    """Answer a poll with `payload` unless the page shows exactly that already."""
    body = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    # A form's CSRF token is signed with the time, so it differs every second: compared with
    # it, a page with a form (a thread's header) would be sent and redrawn on every poll.
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if token:
        body = body.replace(token, "")
    digest = hashlib.sha1(body.encode()).hexdigest()[:16]
    scopes = g.get("live_scopes") or [changes.ALL]
    version = _version(scopes, g.get("live_stamps"), digest, int(time.time()))
    held = request.args.get("v", "").split(_SEP)
    if len(held) == 5 and held[3] == digest:
        return "", 204, {"Cache-Control": "no-store", HEADER: version}
    response = jsonify({"version": version, **payload})
    response.headers["Cache-Control"] = "no-store"
    return response

"""Liveness and readiness for load balancers and `smsbot run`'s supervisor."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from smsbot import db, queues

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # noqa: ANN201
    """200 when the database answers; Redis is reported but optional (the sweep covers it)."""
    checks = {}
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        queues.connection().ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["redis"] = f"error: {type(exc).__name__}"
    code = 200 if checks["database"] == "ok" else 503
    return jsonify(checks), code

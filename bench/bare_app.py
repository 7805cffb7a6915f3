"""The baseline for the ingest benchmark: a bare Flask endpoint answering the same empty TwiML.

No signature check, no form parsing, no database, no queue: what gunicorn + Flask cost on
their own under the same server settings, so the gap to `app:create_app()` is smsbot's own.
Run as `gunicorn --pythonpath bench bare_app:app`.
"""

from __future__ import annotations

from flask import Flask, Response

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

app = Flask(__name__)


@app.post("/sms/inbound")
def inbound() -> Response:
    return Response(EMPTY_TWIML, 200, mimetype="text/xml")

"""How every smsbot process logs: one line per event on stderr, as text or as JSON.

Phone numbers never reach the log (the founders' rule 5). Our own log calls mask them
(`phones.mask`) and never pass a resident's text; the formatters here mask whatever still
slips through in texts we do not write ourselves: a provider's error ("The 'To' number
+7… is not a valid phone number"), a library's exception in a traceback. SMSBOT_LOG_FORMAT
=json writes one JSON object per line for log collectors (Loki, ELK, journald's JSON
export), with the same masking.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from smsbot.exceptions import ConfigError
from smsbot.phones import mask_all

FORMATS = ("text", "json")
"""SMSBOT_LOG_FORMAT's values; text is the default."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("twilio.http_client",)
"""Loggers kept at WARNING: the Twilio SDK's request log prints numbers and texts."""


class MaskingFormatter(logging.Formatter):
    """The usual text line, with every phone number in it masked."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_all(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, and the
    traceback as `exc` when there is one; phone numbers masked in each."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_all(record.getMessage()),
            "pid": record.process,
        }
        if record.exc_info:
            line["exc"] = mask_all(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exc"] = mask_all(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


def formatter(name: str) -> logging.Formatter:
    """The formatter SMSBOT_LOG_FORMAT names."""
    if name == "json":
        return JsonFormatter()
    return MaskingFormatter(TEXT_FORMAT)


def log_format(env: Mapping[str, str]) -> str:
    """SMSBOT_LOG_FORMAT, checked: text (the default) or json."""
    name = (env.get("SMSBOT_LOG_FORMAT") or "text").strip().lower()
    if name not in FORMATS:
        raise ConfigError("SMSBOT_LOG_FORMAT", f"must be text or json, got {name!r}")
    return name


def configure(env: Mapping[str, str] | None = None) -> None:
    """Log at SMSBOT_LOG_LEVEL in SMSBOT_LOG_FORMAT on stderr, unless the process already
    has a handler (gunicorn's, pytest's): then only the level, and our formatter on the
    stream handlers that have none of their own choosing."""
    env = os.environ if env is None else env
    level = (env.get("SMSBOT_LOG_LEVEL") or "INFO").upper()
    chosen = formatter(log_format(env))
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(chosen)
        root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

"""SMSC.ru's calls to our handler URL: read, checked and signed, without I/O.

SMSC.ru has one handler URL per account ("Настройки пользователя"), called for every
delivery status of our messages and for every SMS a resident sends to the dedicated number.
The two are told apart by their fields: an incoming SMS carries its text in `mes`.

- Parameters arrive form-encoded (GET query or POST body) in windows-1251 unless the
  handler URL says `?charset=utf-8` (or koi8-r); `fmt=3` in the URL asks for JSON. We read
  all three forms, and decode the body with the charset the URL names.
- Authentication: the handler URL may name a hash algorithm (`md5`, `sha1` or `crc32`);
  SMSC.ru then adds that hash of the message's fields and the account's secret as the
  parameter of the same name. The inputs, joined with ":" (as SMSC.ru's own PHP example and
  the third-party clients we found compute them; *the page itself was not readable past
  its first paragraph*):
  - a delivery status: `id:phone:status:<secret>`;
  - an incoming SMS: `phone:mes:to:<secret>`.
  crc32 is not an authentication, so we accept md5 and sha1 only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit

from smsbot.providers.base import (
    BadWebhook,
    InboundSms,
    NotAuthentic,
    Parsed,
    StatusUpdate,
    WebhookRequest,
    quoted,
)
from smsbot.providers.smsc import codes

CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "windows-1251": "cp1251", "koi8-r": "koi8_r"}
"""The charsets SMSC.ru can be told to use in the handler URL (windows-1251 is its default)."""
DEFAULT_CHARSET = "windows-1251"
HASHES = ("md5", "sha1")
"""The hash parameters we check, strongest last; crc32 is refused as no authentication."""

MAX_TEXT = 4096
"""Longest resident text we take; a concatenated SMS is far shorter (≈ 1,530 characters)."""
MAX_ID = 2**63 - 1
"""Ids are stored as 64-bit integers at most: a longer number is refused, not wrapped."""
MAX_FIELD = 64
"""Longest id, phone, status or time value: anything longer is junk, not SMSC.ru."""


def charset(request: WebhookRequest) -> str:
    """The Python codec of the charset the handler URL asked SMSC.ru for."""
    name = (request.arg("charset") or DEFAULT_CHARSET).lower()
    codec = CHARSETS.get(name)
    if codec is None:
        raise BadWebhook([f"charset: {quoted(name)!r} is not one SMSC.ru sends"])
    return codec


def fields(request: WebhookRequest) -> dict[str, str]:
    """The callback's parameters (first value of each), query and body merged, body first.

    BadWebhook when the body cannot be decoded in the charset the handler URL names.
    """
    codec = charset(request)
    found = _query_fields(request, codec)
    content_type = request.content_type.split(";")[0].strip().lower()
    if request.body and content_type == "application/json":
        found.update(_json_fields(request.body, codec))
    elif request.body:
        try:
            pairs = parse_qsl(
                request.body.decode("latin-1"),
                keep_blank_values=True,
                encoding=codec,
                errors="strict",
            )
        except UnicodeDecodeError:
            raise BadWebhook([f"body: not valid {codec} text"]) from None
        body_fields: dict[str, str] = {}
        for name, value in pairs:
            body_fields.setdefault(name, value)
        found.update(body_fields)
    else:
        for name, values in request.form.items():
            if values:
                found[name] = values[0]
    return found


def _query_fields(request: WebhookRequest, codec: str) -> dict[str, str]:
    """The query decoded in SMSC.ru's charset (the web layer decoded it as UTF-8)."""
    query = urlsplit(request.urls[0]).query if request.urls else ""
    if not query:
        return {name: values[0] for name, values in request.args.items() if values}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, encoding=codec, errors="strict")
    except UnicodeDecodeError:
        raise BadWebhook([f"query: not valid {codec} text"]) from None
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


def _json_fields(body: bytes, charset: str) -> dict[str, str]:
    try:
        data = json.loads(body.decode(charset))
    except (UnicodeDecodeError, ValueError):
        raise BadWebhook(["body: not a JSON object"]) from None
    if not isinstance(data, dict):
        raise BadWebhook(["body: not a JSON object"])
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def is_incoming(found: Mapping[str, str]) -> bool:
    """An incoming SMS carries its text in `mes`; a delivery status does not."""
    return "mes" in found


def hash_input(found: Mapping[str, str], secret: str) -> str:
    """The string SMSC.ru hashes for this callback (see the module docstring)."""
    if is_incoming(found):
        parts = (found.get("phone", ""), found.get("mes", ""), found.get("to", ""))
    else:
        parts = (found.get("id", ""), found.get("phone", ""), found.get("status", ""))
    return ":".join((*parts, secret))


def digest(algorithm: str, text: str, codec: str = "utf-8") -> str:
    """The hash over the text's bytes in the charset SMSC.ru sent it in."""
    return hashlib.new(algorithm, text.encode(codec, "replace")).hexdigest()


def authenticate(found: Mapping[str, str], secret: str, codec: str = "utf-8") -> None:
    """NotAuthentic unless an md5 or sha1 parameter matches our secret's hash."""
    given = {name: found[name] for name in HASHES if found.get(name)}
    if not given:
        if found.get("crc32"):
            raise NotAuthentic("crc32 is no authentication: set md5 in the SMSC handler URL")
        raise NotAuthentic("no md5 or sha1 parameter: set md5 in the SMSC handler URL")
    text = hash_input(found, secret)
    for name, value in given.items():
        expected = digest(name, text, codec)
        if hmac.compare_digest(value.strip().lower().encode(), expected.encode()):
            return
    names = " and ".join(given)
    raise NotAuthentic(
        f"{names} does not match the hash of this callback with SMSC_CALLBACK_SECRET"
    )


def sign(found: dict[str, str], secret: str, algorithm: str = "md5") -> dict[str, str]:
    """`found` with the hash SMSC.ru would add, in UTF-8 (for simulate_inbound and tests)."""
    return {**found, algorithm: digest(algorithm, hash_input(found, secret))}


def encode(found: Mapping[str, str]) -> bytes:
    """A UTF-8 form body as SMSC.ru posts it when the handler URL says charset=utf-8."""
    return urlencode(dict(found), encoding="utf-8").encode("ascii")


# --- reading -------------------------------------------------------------------------------


def parse(found: Mapping[str, str], provider: str) -> Parsed:
    """An incoming SMS or a delivery status; BadWebhook listing every problem found."""
    problems: list[str] = []
    if is_incoming(found):
        sms = _incoming(found, provider, problems)
        if problems:
            raise BadWebhook(problems)
        return Parsed(inbound=(sms,))
    update = _status(found, problems)
    if problems:
        raise BadWebhook(problems)
    return Parsed(statuses=(update,))


def _incoming(found: Mapping[str, str], provider: str, problems: list[str]) -> InboundSms:
    sms_id = _number(found, "id", problems)
    from_phone = _phone(found, "phone", problems)
    to_phone = _phone(found, "to", problems)
    text = found.get("mes", "")
    if len(text) > MAX_TEXT:
        problems.append(f"mes: {len(text)} characters, more than {MAX_TEXT}")
    # A NUL or other control character in the text is no reason to lose the message:
    # inbound.store drops it (smsbot.textnorm.storable).
    extra = {k: found[k] for k in ("sms_id", "sent", "time") if k in found}
    for name, value in extra.items():
        if len(value) > MAX_FIELD or "\x00" in value:
            problems.append(f"{name}: not a value SMSC.ru sends")
    return InboundSms(
        provider=provider,
        provider_id=str(sms_id),
        from_phone=from_phone,
        to_phone=to_phone,
        body=text,
        params=extra,
    )


def _status(found: Mapping[str, str], problems: list[str]) -> StatusUpdate:
    message_id = _number(found, "id", problems)
    phone = _phone(found, "phone", problems)
    code = _number(found, "status", problems, signed=True)
    err = _number(found, "err", problems, required=False)
    state = meaning = None
    if code is not None:
        try:
            known, meaning = codes.status(code, err)
            state = known.state
        except KeyError:
            problems.append(f"status: {quoted(code)} is not an SMSC.ru delivery status")
    return StatusUpdate(
        provider_id=provider_id(message_id, phone),
        status=state or "",
        # Every send carries our id, which SMSC.ru echoes: a status that comes before the
        # send is recorded (or after its answer was lost) still finds its message.
        message_id=message_id,
        error_code=err or None,
        error_message=codes.describe_error(err),
        meaning=meaning,
    )


def provider_id(message_id: int | None, e164: str) -> str:
    """Our key for one SMSC.ru send: its id and the phone, as SMSC.ru itself keys a
    message (status.php needs both); the id alone may be SMSC.ru's or ours."""
    return f"{message_id}/{e164.lstrip('+')}"


def _number(
    found: Mapping[str, str],
    name: str,
    problems: list[str],
    *,
    signed: bool = False,
    required: bool = True,
) -> int | None:
    raw = found.get(name)
    if raw is None or raw == "":
        if required:
            problems.append(f"{name}: missing")
        return None
    text = raw[1:] if signed and raw.startswith("-") else raw
    if len(raw) > MAX_FIELD or not text.isascii() or not text.isdigit():
        problems.append(f"{name}: not a whole number")
        return None
    value = int(raw)
    if abs(value) > MAX_ID:
        problems.append(f"{name}: larger than a 64-bit integer")
        return None
    return value


def _phone(found: Mapping[str, str], name: str, problems: list[str]) -> str:
    """SMSC.ru writes numbers as international digits without "+" (79991234567)."""
    raw = (found.get(name) or "").strip()
    if not raw:
        problems.append(f"{name}: missing")
        return ""
    digits = raw[1:] if raw.startswith("+") else raw
    if not (digits.isascii() and digits.isdigit() and 7 <= len(digits) <= 15) or digits[0] == "0":
        problems.append(f"{name}: not an international phone number")
        return ""
    return "+" + digits

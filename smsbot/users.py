"""Staff accounts: who may sign in to the web interface, and with what rights.

Passwords are stored only as werkzeug hashes. Failed sign-ins are counted in Redis, shared
by every web process, so an attacker cannot spread guesses over gunicorn workers or
machines. Each user carries a session token that is part of every session cookie: a new
password, a deactivation or an admin's "end sessions" changes it and so ends every session
that user had. Each sign-in also has its own row in `staff_session`, which sign-out ends.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, update
from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from smsbot.clock import utcnow
from smsbot.exceptions import Refused
from smsbot.models import (
    COMPANY_ROLES,
    ROLE_COMPANY_ADMIN,
    ROLE_DISPATCHER,
    ROLE_INSPECTOR,
    ROLE_SUPERADMIN,
    ROLES,
    Company,
    StaffChange,
    StaffSession,
    User,
)

log = logging.getLogger(__name__)

PASSWORD_MIN_LENGTH = 10
"""Shorter passwords are refused; length is what makes a password hard to guess."""
LOGIN_MAX_LENGTH = 64

THROTTLE_WINDOW = 15 * 60
"""Seconds over which failed sign-ins are counted (each failure restarts the window)."""
THROTTLE_LIMITS = {"pair": 5, "address": 30, "login": 100}
"""Failures within the window before further tries are refused: for one login from one
address (a person mistyping, a guesser), from one address whatever the logins, and for one
login from any address (a spread-out attack). The per-login limit is high so that a
stranger cannot lock a dispatcher out by failing on purpose from one machine."""

HASH_METHOD = "scrypt"
"""werkzeug's method for new password hashes (tests swap in a cheap one)."""

_DUMMY_HASH = generate_password_hash("not-a-password-" + secrets.token_hex(8))
"""Checked when the login is unknown, so a wrong login takes as long as a wrong password."""


def normalize_login(login: str) -> str:
    return (login or "").strip().lower()


def can_write(user: User) -> bool:
    """Inspectors read; everyone else may act within their scope."""
    return user.role != ROLE_INSPECTOR


def is_admin(user: User) -> bool:
    return user.role in (ROLE_COMPANY_ADMIN, ROLE_SUPERADMIN)


def company_scope(user: User) -> frozenset[int] | None:
    """The companies a user may see: their own, or None for every company."""
    if user.role in COMPANY_ROLES:
        return frozenset({user.company_id}) if user.company_id is not None else frozenset()
    return None


def in_scope(user: User, company_id: int | None) -> bool:
    scope = company_scope(user)
    return scope is None or company_id in scope


def _check_password(password: str) -> None:
    if len(password or "") < PASSWORD_MIN_LENGTH:
        raise Refused("The password must have at least {n} characters.", n=PASSWORD_MIN_LENGTH)


def create_user(
    session: Session,
    *,
    login: str,
    name: str,
    password: str,
    role: str,
    company_id: int | None = None,
    language: str = "ru",
    phone: str | None = None,
) -> User:
    """Add a staff account; dispatchers and company admins belong to exactly one company.

    `phone` is where deadline alerts go (any way people write it; stored as E.164).
    """
    login = normalize_login(login)
    if not login or len(login) > LOGIN_MAX_LENGTH or any(c.isspace() for c in login):
        raise Refused("The login must be 1 to {n} characters without spaces.", n=LOGIN_MAX_LENGTH)
    if role not in ROLES:
        raise Refused(
            "Unknown role {role}; use one of: {roles}.", role=role, roles=", ".join(ROLES)
        )
    if role in COMPANY_ROLES:
        if company_id is None or session.get(Company, company_id) is None:
            raise Refused("A {role} needs the company they work for.", role=role)
    elif company_id is not None:
        raise Refused("An {role} sees every company; do not give a company.", role=role)
    if language not in ("ru", "en"):
        raise Refused("The language must be ru or en.")
    _check_password(password)
    phone = staff_phone(phone)
    if session.exec(select(User.id).where(User.login == login)).first() is not None:
        raise Refused("The login {login} is taken.", login=login)
    user = User(
        login=login,
        name=(name or login).strip()[:200],
        password_hash=generate_password_hash(password, method=HASH_METHOD),
        role=role,
        company_id=company_id,
        language=language,
        session_token=secrets.token_hex(16),
        phone=phone,
    )
    session.add(user)
    session.flush()
    return user


def staff_phone(raw: str | None) -> str | None:
    """A staff member's mobile as E.164, or None when none is given; Refused when unusable."""
    from smsbot.phones import InvalidPhone, normalize

    if raw is None or not raw.strip():
        return None
    try:
        return normalize(raw)
    except InvalidPhone as exc:
        raise Refused("The phone number is not usable: {reason}.", reason=exc.reason) from None


def set_password(session: Session, user: User, password: str) -> None:
    """Change a password and end every session the user had."""
    _check_password(password)
    user.password_hash = generate_password_hash(password, method=HASH_METHOD)
    user.session_token = secrets.token_hex(16)
    session.add(user)


def deactivate(session: Session, user: User) -> None:
    """Disable an account: it cannot sign in, and every open session of it ends now."""
    user.active = False
    end_all_sessions(session, user)


def reactivate(session: Session, user: User) -> None:
    user.active = True
    session.add(user)


def session_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def open_session(session: Session, user_id: int) -> str:
    """Record a new sign-in; returns the random key that goes in the cookie (stored hashed)."""
    key = secrets.token_urlsafe(24)
    session.add(StaffSession(id=session_key_hash(key), user_id=user_id))
    return key


def end_session(session: Session, key: str) -> None:
    """Sign-out: this browser's session ends on the server, so a copy of its cookie is dead."""
    session.execute(
        update(StaffSession)
        .where(StaffSession.id == session_key_hash(key), StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_all_sessions(session: Session, user: User) -> None:
    """Every browser the user is signed in on is signed out (an admin's "end sessions")."""
    user.session_token = secrets.token_hex(16)
    session.add(user)
    session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def open_sessions(session: Session, user_ids: list[int]) -> dict[int, int]:
    """How many browsers each of these users is signed in on (sessions not ended)."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(StaffSession.user_id, func.count())
        .where(StaffSession.user_id.in_(user_ids), StaffSession.ended_at.is_(None))
        .group_by(StaffSession.user_id)
    ).all()
    return dict(rows)


def authenticate(session: Session, login: str, password: str) -> User | None:
    """The active user with this login and password, or None (same cost either way)."""
    user = session.exec(select(User).where(User.login == normalize_login(login))).first()
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    return user


def record_sign_in(session: Session, user_id: int) -> None:
    session.execute(update(User).where(User.id == user_id).values(last_sign_in_at=utcnow()))


def assignable(session: Session, company_id: int, user_id: int) -> bool:
    """Whether conversations and tickets of the company may be given to this user."""
    user = session.get(User, user_id)
    return (
        user is not None
        and user.active
        and user.company_id == company_id
        and user.role in COMPANY_ROLES
    )


def colleagues(session: Session, company_id: int) -> list[User]:
    """Active staff of a company who can be assigned conversations and tickets."""
    return list(
        session.exec(
            select(User)
            .where(User.company_id == company_id, User.active, User.role.in_(COMPANY_ROLES))
            .order_by(User.name)
        )
    )


@dataclass
class SignInThrottle:
    """Counts failed sign-ins in Redis, shared by every web process.

    When Redis is unreachable sign-in still works (and says so in the log): locking every
    dispatcher out during a Redis outage would be worse than a short unthrottled window.
    """

    redis: Redis
    prefix: str = "smsbot:signin"

    def _keys(self, login: str, address: str) -> dict[str, str]:
        login, address = normalize_login(login), address or "-"
        return {
            "pair": f"{self.prefix}:pair:{address}:{login}",
            "address": f"{self.prefix}:addr:{address}",
            "login": f"{self.prefix}:login:{login}",
        }

    def retry_after(self, login: str, address: str) -> int:
        """Seconds until another try is allowed; 0 when it is allowed now."""
        keys = self._keys(login, address)
        try:
            pipe = self.redis.pipeline()
            for key in keys.values():
                pipe.get(key).ttl(key)
            found = pipe.execute()
        except RedisError as exc:
            log.warning("sign-in throttle unavailable (%s); allowing the attempt", exc)
            return 0
        waits = [
            max(int(ttl), 1)
            for kind, count, ttl in zip(keys, found[0::2], found[1::2], strict=True)
            if count is not None and int(count) >= THROTTLE_LIMITS[kind]
        ]
        return max(waits, default=0)

    def failed(self, login: str, address: str) -> None:
        try:
            pipe = self.redis.pipeline()
            for key in self._keys(login, address).values():
                pipe.incr(key).expire(key, THROTTLE_WINDOW)
            pipe.execute()
        except RedisError as exc:
            log.warning("could not count a failed sign-in: %s", exc)

    def succeeded(self, login: str, address: str) -> None:
        """A right password clears that person's own count (not the address's or login's)."""
        try:
            self.redis.delete(self._keys(login, address)["pair"])
        except RedisError as exc:
            log.warning("could not reset the sign-in counter: %s", exc)


# --- staff management (the admin's "Staff" page) -----------------------------------------------

MANAGED_ROLES = (ROLE_DISPATCHER, ROLE_COMPANY_ADMIN)
"""The roles a company admin gives and manages; inspectors and superadmins are made on the
command line by the service's operator."""


def record_change(
    session: Session, actor: User, action: str, target: str, company_id: int | None
) -> None:
    """One line of the audit log: who did what to whom, when."""
    session.add(
        StaffChange(actor_id=actor.id, company_id=company_id, action=action, target=target[:200])
    )


def managed_user(session: Session, actor: User, user_id: int, company_id: int) -> User | None:
    """A staff member of `company_id` the actor may manage; None otherwise (not theirs: the
    page answers 404, as for any row of another company)."""
    user = session.get(User, user_id)
    if (
        user is None
        or user.company_id != company_id
        or user.role not in MANAGED_ROLES
        or not in_scope(actor, company_id)
    ):
        return None
    return user


def temporary_password() -> str:
    """A password the admin passes on once; 14 characters from an unambiguous alphabet."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


def changes(session: Session, company_id: int, limit: int = 50) -> list[tuple[StaffChange, str]]:
    """The company's latest staff changes, newest first, with the actor's name."""
    rows = session.exec(
        select(StaffChange, User.name)
        .join(User, User.id == StaffChange.actor_id, isouter=True)
        .where(StaffChange.company_id == company_id)
        .order_by(StaffChange.at.desc(), StaffChange.id.desc())
        .limit(limit)
    ).all()
    return [(change, name or "—") for change, name in rows]

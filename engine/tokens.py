"""Bearer tokens for the JSON API: only a token's sha256 is stored, never the token itself.

A token is 32 random bytes (url-safe text); whoever holds it acts as its user until it
expires. Looking a token up by its digest needs no constant-time comparison: the digest of a
guess says nothing about the stored ones.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, bindparam, delete, select
from sqlalchemy.orm import Mapped, Session, contains_eager, mapped_column

from engine.models import Base, User, UserRole, utcnow

DEFAULT_LIFETIME = timedelta(hours=12)
# last_used_at is refreshed at most this often, so reading the API is not a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
PREFIX = "jjg_"  # recognisable in logs and by secret scanners
MAX_TOKEN = 200


class ApiToken(Base):
    """One issued API token: its digest, whose it is, and when it stops working."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_used_at: Mapped[datetime | None]


def digest(token: str) -> str:
    """The sha256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    user: User,
    lifetime: timedelta = DEFAULT_LIFETIME,
    now: datetime | None = None,
) -> str:
    """A new token for the user, valid for `lifetime`; only its digest is stored."""
    now = now or utcnow()
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_sha256=digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


# Every API request looks its token up: the token, its user and the user's roles come in one
# statement (built once), instead of one each for the token, the user and the roles.
_TOKEN_USER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .outerjoin(UserRole, UserRole.user_id == User.id)
    .options(contains_eager(User.roles))
    .where(ApiToken.token_sha256 == bindparam("p_digest"))
)


def user_for_token(session: Session, token: str, now: datetime | None = None) -> User | None:
    """The active user a live token belongs to; None for an unknown or expired token."""
    if not token or len(token) > MAX_TOKEN:
        return None
    now = now or utcnow()
    found = session.execute(_TOKEN_USER, {"p_digest": digest(token)}).unique().first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
    return user


def revoke_token(session: Session, token: str) -> bool:
    """End a token before its time (logout from a client); whether it existed."""
    if not token or len(token) > MAX_TOKEN:
        return False
    done = session.execute(delete(ApiToken).where(ApiToken.token_sha256 == digest(token)))
    return bool(getattr(done, "rowcount", 0))

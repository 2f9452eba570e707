"""Users, roles and the org chart (who supervises whom)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidInput, UserNotFound
from engine.models import OrgUnit, User, UserRole

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
ROLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def user_by_name(session: Session, username: str) -> User | None:
    """The user with this username, or None."""
    return session.scalar(select(User).where(User.username == username))


def get_user(session: Session, username: str) -> User:
    """The user with this username; raises UserNotFound."""
    user = user_by_name(session, username)
    if user is None:
        raise UserNotFound(f"user '{username}' does not exist")
    return user


def supervisor_of(session: Session, username: str) -> str | None:
    """The username of the user's direct supervisor (atasan langsung), if any."""
    user = user_by_name(session, username)
    if user is None or user.supervisor_id is None:
        return None
    sup = session.get(User, user.supervisor_id)
    return sup.username if sup else None


def get_or_create_unit(session: Session, code: str, name: str | None = None) -> OrgUnit:
    """The org unit with this code, created if missing."""
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if unit is None:
        unit = OrgUnit(code=code, name=name or code)
        session.add(unit)
        session.flush()
    return unit


def add_user(
    session: Session,
    username: str,
    roles: list[str],
    *,
    unit: str | None = None,
    supervisor: str | None = None,
    full_name: str = "",
    email: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Create a user with roles, an org unit and a supervisor (all validated first)."""
    if not NAME_RE.match(username):
        raise InvalidInput(
            f"username '{username}': use lowercase letters, digits, '.', '_' or '-' (max 64)"
        )
    if user_by_name(session, username) is not None:
        raise InvalidInput(f"user '{username}' already exists")
    for role in roles:
        if not ROLE_RE.match(role):
            raise InvalidInput(f"role '{role}': use lowercase letters, digits and '_'")
    sup = get_user(session, supervisor) if supervisor else None
    user = User(
        username=username,
        full_name=full_name or username,
        email=email,
        password_hash=password_hash,
        unit_id=get_or_create_unit(session, unit).id if unit else None,
        supervisor_id=sup.id if sup else None,
    )
    user.roles = [UserRole(role=r) for r in dict.fromkeys(roles)]
    session.add(user)
    session.flush()
    return user

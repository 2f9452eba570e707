"""The HR admin's changes to staff accounts and org units: checked, audited, never committed.

Every check against stored records (a taken username, an unknown supervisor, a supervisor
cycle) lives here. A refused change raises `AccountRejected` with one `FieldProblem` per field
so a form can show each message beside its field; nothing is written then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import InvalidInput, NotAllowed, UserNotFound
from engine.models import OrgUnit, User, UserRole
from engine.passwords import hash_password
from engine.users import NAME_RE, add_user, user_by_name

ADMIN_ROLES = frozenset({"admin", "admin_bkpsdm"})
# The staff roles an admin may grant (the process lanes); applicants register themselves.
STAFF_ROLES = (
    "pegawai",
    "atasan",
    "mentor",
    "verifikator",
    "panitia_seleksi",
    "ppk",
    "admin_bkpsdm",
    "admin",
    "pemilik_proses",
)
UNIT_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME = 200


@dataclass(frozen=True)
class FieldProblem:
    """One refused field and why (a short code the web layer turns into a sentence)."""

    field: str
    code: str


class AccountRejected(InvalidInput):
    """The account or unit data breaks a rule; nothing was stored."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.code}" for p in problems))


def is_admin(user: User) -> bool:
    """Whether the user administers accounts."""
    return bool(user.role_names & ADMIN_ROLES)


def require_admin(actor: User) -> None:
    """Raise NotAllowed unless the actor is an HR admin."""
    if not is_admin(actor):
        raise NotAllowed(f"{actor.username} may not administer users")


def is_staff(user: User) -> bool:
    """Staff accounts: anyone who is not an applicant."""
    return "pelamar" not in user.role_names


def _unit(session: Session, code: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def _role_problems(roles: list[str]) -> list[FieldProblem]:
    if not roles:
        return [FieldProblem("roles", "roles_required")]
    if any(role not in STAFF_ROLES for role in roles):
        return [FieldProblem("roles", "unknown_role")]
    return []


def _unit_problems(session: Session, code: str, name: str) -> list[FieldProblem]:
    problems = []
    if not UNIT_CODE_RE.match(code):
        problems.append(FieldProblem("unit_code", "unit_code_format"))
    elif _unit(session, code) is not None:
        problems.append(FieldProblem("unit_code", "unit_code_taken"))
    if not name.strip() or len(name) > MAX_NAME:
        problems.append(FieldProblem("unit_name", "required"))
    return problems


def _active_user(session: Session, username: str) -> User | None:
    user = user_by_name(session, username)
    return user if user is not None and user.active and is_staff(user) else None


def create_user(
    session: Session,
    actor: User,
    *,
    username: str,
    full_name: str,
    email: str | None,
    roles: list[str],
    unit: str | None,
    new_unit: tuple[str, str] | None,
    supervisor: str | None,
    password: str,
    min_password: int,
) -> User:
    """Create a staff account (and its new unit, if asked); raises AccountRejected."""
    require_admin(actor)
    problems: list[FieldProblem] = []
    if not NAME_RE.match(username):
        problems.append(FieldProblem("username", "username_format"))
    elif user_by_name(session, username) is not None:
        problems.append(FieldProblem("username", "username_taken"))
    if not full_name.strip() or len(full_name) > MAX_NAME:
        problems.append(FieldProblem("full_name", "required"))
    if email and not EMAIL_RE.match(email):
        problems.append(FieldProblem("email", "email_format"))
    problems += _role_problems(roles)
    if new_unit is not None:
        problems += _unit_problems(session, *new_unit)
    elif unit and _unit(session, unit) is None:
        problems.append(FieldProblem("unit", "unknown_unit"))
    if supervisor and _active_user(session, supervisor) is None:
        problems.append(FieldProblem("supervisor", "unknown_user"))
    if len(password) < min_password:
        problems.append(FieldProblem("password", "password_short"))
    elif username and username.lower() in password.lower():
        problems.append(FieldProblem("password", "password_username"))
    if problems:
        raise AccountRejected(problems)
    if new_unit is not None:
        unit = create_unit(session, actor, *new_unit).code
    user = add_user(
        session,
        username,
        roles,
        unit=unit or None,
        supervisor=supervisor or None,
        full_name=full_name.strip(),
        email=email or None,
        password_hash=hash_password(password),
    )
    detail = {"user": username, "roles": sorted(roles), "unit": unit, "supervisor": supervisor}
    audit.append(session, actor.username, "user_created", detail=detail)
    return user


def _reports_to(session: Session, start: User, target: User) -> bool:
    """Whether `target` is `start` or above it in the supervisor chain."""
    seen: set[int] = set()
    current: User | None = start
    while current is not None and current.id not in seen:
        if current.id == target.id:
            return True
        seen.add(current.id)
        current = session.get(User, current.supervisor_id) if current.supervisor_id else None
    return False


def staff_user(session: Session, user_id: int) -> User:
    """The staff account with this id; raises UserNotFound (applicants are not staff)."""
    user = session.get(User, user_id)
    if user is None or not is_staff(user):
        raise UserNotFound(f"no staff user {user_id}")
    return user


def update_user(
    session: Session,
    actor: User,
    user_id: int,
    *,
    roles: list[str],
    unit: str | None,
    supervisor: str | None,
    active: bool,
) -> User:
    """Change a staff account's roles, unit, supervisor and status; raises AccountRejected."""
    require_admin(actor)
    user = staff_user(session, user_id)
    problems = _role_problems(roles)
    if user.id == actor.id and not set(roles) & ADMIN_ROLES:
        problems.append(FieldProblem("roles", "own_admin_role"))
    if user.id == actor.id and not active:
        problems.append(FieldProblem("active", "self_deactivate"))
    new_unit = _unit(session, unit) if unit else None
    if unit and new_unit is None:
        problems.append(FieldProblem("unit", "unknown_unit"))
    boss = _active_user(session, supervisor) if supervisor else None
    if supervisor and supervisor == user.username:
        problems.append(FieldProblem("supervisor", "self_supervisor"))
    elif supervisor and boss is None:
        problems.append(FieldProblem("supervisor", "unknown_user"))
    elif boss is not None and _reports_to(session, boss, user):
        problems.append(FieldProblem("supervisor", "supervisor_cycle"))
    if problems:
        raise AccountRejected(problems)
    before = {
        "roles": sorted(user.role_names),
        "unit": user.unit.code if user.unit else None,
        "supervisor": user.supervisor.username if user.supervisor else None,
        "active": user.active,
    }
    after = {
        "roles": sorted(set(roles)),
        "unit": unit or None,
        "supervisor": supervisor or None,
        "active": active,
    }
    if set(roles) != user.role_names:
        kept = [r for r in user.roles if r.role in roles]
        added = [UserRole(role=r) for r in dict.fromkeys(roles) if r not in user.role_names]
        user.roles = kept + added
    user.unit_id = new_unit.id if new_unit else None
    user.supervisor_id = boss.id if boss else None
    user.active = active
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changed:
        detail = {"user": user.username, **changed}
        audit.append(session, actor.username, "user_updated", detail=detail)
    return user


def create_unit(session: Session, actor: User, code: str, name: str) -> OrgUnit:
    """Create an org unit with a unique code; raises AccountRejected."""
    require_admin(actor)
    problems = _unit_problems(session, code, name)
    if problems:
        raise AccountRejected(problems)
    unit = OrgUnit(code=code, name=name.strip())
    session.add(unit)
    session.flush()
    audit.append(session, actor.username, "unit_created", detail={"code": code, "name": name})
    return unit

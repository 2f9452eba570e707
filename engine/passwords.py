"""Password hashing (scrypt), in the format werkzeug's check_password_hash reads."""

from __future__ import annotations

import hashlib
import hmac
import secrets

N, R, P = 2**15, 8, 1


def hash_password(password: str) -> str:
    """A salted scrypt hash: `scrypt:N:r:p$salt$hex`."""
    salt = secrets.token_urlsafe(12)[:16]
    digest = hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=N, r=R, p=P, maxmem=132 * N * R * P
    )
    return f"scrypt:{N}:{R}:{P}${salt}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    """Whether the password matches a hash made by hash_password (or werkzeug)."""
    if not stored or stored.count("$") != 2:
        return False
    method, salt, expected = stored.split("$")
    name, *args = method.split(":")
    if name != "scrypt" or len(args) != 3:
        return False
    n, r, p = (int(a) for a in args)
    digest = hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
    )
    return hmac.compare_digest(digest.hex(), expected)

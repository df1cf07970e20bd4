"""Passwords: Argon2id hashes, and what a password must be.

Argon2id (``argon2-cffi``) is the OWASP first choice. ``verify_password`` spends a full
verification even when there is no stored hash, so a wrong user name costs the same time as
a wrong password and names cannot be probed.
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo_service.errors import InvalidAccount

HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return HASHER.hash(password)


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether the password matches; an absent hash costs a verification all the same."""
    try:
        return HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified was made with weaker parameters than today's."""
    return HASHER.check_needs_rehash(stored)


def new_password() -> str:
    """A password to hand out once (demo admin, users created without one)."""
    return secrets.token_urlsafe(12)


def check_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidAccount(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == username.lower():
        raise InvalidAccount("the password must differ from the user name")

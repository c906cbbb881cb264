"""Access tokens for writing results: issued and revoked by name, stored only as hashes.

A token is 32 bytes from the OS's CSPRNG. A slow password hash (bcrypt, scrypt) exists
to make guessing low-entropy human passwords expensive; guessing a 256-bit random value
is infeasible at any speed, so one SHA-256 is enough, and it lets every request find its
token with one indexed lookup. Someone who reads the database learns only hashes, which
cannot be turned back into a token the server would accept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from aipep_core.errors import UserError
from server.schema import tokens

TOKEN_PREFIX = "aipep_"


@dataclass(frozen=True)
class TokenInfo:
    name: str
    created_at: float
    revoked_at: float | None


def create_token(engine: Engine, name: str) -> str:
    """Issue a token for `name`; the plain token exists only in the return value."""
    if not name.strip():
        raise UserError("--name: expected a non-empty name for the token, got an empty one")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with engine.begin() as connection:
            connection.execute(tokens.insert().values(name=name, hash=token_hash(token), created_at=time.time()))
    except IntegrityError:
        raise UserError(f"--name {name}: a token with this name is active; revoke it first") from None
    return token


def revoke_token(engine: Engine, name: str) -> None:
    with engine.begin() as connection:
        done = connection.execute(
            update(tokens).where(tokens.c.name == name, tokens.c.revoked_at.is_(None)).values(revoked_at=time.time())
        )
    if done.rowcount == 0:
        raise UserError(f"--name {name}: expected the name of an active token, got one that is unknown or revoked")


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(tokens.c.name, tokens.c.created_at, tokens.c.revoked_at).order_by(tokens.c.created_at)
        )
        return [TokenInfo(*row) for row in rows]


def is_valid_token(engine: Engine, token: str) -> bool:
    """True for an issued, unrevoked token.

    The lookup is by hash, so its timing can only reveal facts about a hash; the final
    comparison is constant-time all the same, so no path compares secrets byte by byte.
    """
    presented = token_hash(token)
    with engine.connect() as connection:
        stored = connection.execute(
            select(tokens.c.hash).where(tokens.c.hash == presented, tokens.c.revoked_at.is_(None))
        ).scalar()
    return stored is not None and hmac.compare_digest(stored, presented)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()

"""Pseudonymised user and session ids: a keyed hash replaces the raw id before it reaches storage.

With a secret, ``pseudonymise(secret, "alice")`` is HMAC-SHA256(secret, "alice") in hex: the
same id always maps to the same pseudonym (so histories still join up), and without the secret
a pseudonym cannot be turned back into the id, nor an id guessed and checked against it.

>>> pseudonymise(b"s3cret", "alice") == pseudonymise(b"s3cret", "alice")
True
>>> pseudonymise(b"s3cret", "alice") != pseudonymise(b"other", "alice")
True
>>> len(pseudonymise(b"s3cret", "alice"))
64
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from pydantic import SecretStr


def pseudonymise(secret: bytes, user_id: str) -> str:
    """HMAC-SHA256(secret, user_id) as 64 lowercase hex characters."""
    return hmac.new(secret, user_id.encode("utf-8"), hashlib.sha256).hexdigest()


def user_key_function(secret: SecretStr | None) -> Callable[[str], str]:
    """What the engine stores for a user id: its pseudonym with a secret, else the id itself."""
    if secret is None or not secret.get_secret_value():
        return _unchanged
    key = secret.get_secret_value().encode("utf-8")
    return lambda user_id: pseudonymise(key, user_id)


def _unchanged(user_id: str) -> str:
    return user_id


SESSION_PREFIX = "session\x1f"


def session_key_function(secret: SecretStr | None) -> Callable[[str], str]:
    """What the engine stores for an anonymous session id: ``SESSION_PREFIX`` and the id, or
    with a secret its pseudonym (in a domain of its own: a session and a user of the same id
    get unrelated pseudonyms). No user key can equal it: ids never hold control characters
    and pseudonyms are hex.

    >>> session_key_function(None)("s1") == SESSION_PREFIX + "s1"
    True
    """
    if secret is None or not secret.get_secret_value():
        return lambda session_id: SESSION_PREFIX + session_id
    key = secret.get_secret_value().encode("utf-8")
    return lambda session_id: SESSION_PREFIX + pseudonymise(key, SESSION_PREFIX + session_id)

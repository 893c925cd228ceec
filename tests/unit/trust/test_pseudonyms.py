"""Pseudonyms: a keyed, stable, irreversible replacement for user ids."""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from streamrec.trust.pseudonyms import pseudonymise, user_key_function


def test_the_pseudonym_is_hmac_sha256_of_the_id_in_hex() -> None:
    expected = hmac.new(b"k", b"alice", hashlib.sha256).hexdigest()
    assert pseudonymise(b"k", "alice") == expected


def test_without_a_secret_ids_are_unchanged() -> None:
    assert user_key_function(None)("alice") == "alice"


def test_with_a_secret_ids_are_replaced_stably_and_differ_per_user() -> None:
    key_of = user_key_function(SecretStr("s3cret"))
    assert key_of("alice") == key_of("alice") == pseudonymise(b"s3cret", "alice")
    assert key_of("alice") != key_of("bob")
    assert "alice" not in key_of("alice")


def test_another_secret_gives_other_pseudonyms() -> None:
    assert user_key_function(SecretStr("a"))("alice") != user_key_function(SecretStr("b"))(
        "alice")

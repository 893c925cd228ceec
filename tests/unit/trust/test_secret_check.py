"""A data dir remembers, by a keyed check value, which pseudonym secret wrote its ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from streamrec.errors import Misconfigured
from streamrec.settings import Settings
from streamrec.trust.secret_check import FILE, check_secret

SECRET, OTHER = SecretStr("s3cret-for-tests"), SecretStr("another-secret")


def test_an_empty_secret_is_refused_as_a_setting() -> None:
    for blank in ("", "   "):
        with pytest.raises(ValidationError, match="pseudonym secret is empty"):
            Settings(trust={"pseudonym_secret": blank})


def test_a_pseudonymised_dir_refuses_no_secret_and_another_secret(tmp_path: Path) -> None:
    check_secret(tmp_path, SECRET, has_events=False)  # the first start records it
    check_secret(tmp_path, SECRET, has_events=True)
    with pytest.raises(Misconfigured, match="holds pseudonymised ids"):
        check_secret(tmp_path, None, has_events=True)
    with pytest.raises(Misconfigured, match="not the secret this data dir was written with"):
        check_secret(tmp_path, OTHER, has_events=True)
    stored = (tmp_path / FILE).read_text()
    assert SECRET.get_secret_value() not in stored and "check" in stored


def test_a_dir_of_raw_ids_refuses_to_turn_pseudonyms_on(tmp_path: Path) -> None:
    check_secret(tmp_path, None, has_events=False)
    with pytest.raises(Misconfigured, match="raw user ids"):
        check_secret(tmp_path, SECRET, has_events=True)


def test_a_dir_without_events_may_switch_and_records_the_switch(tmp_path: Path) -> None:
    check_secret(tmp_path, None, has_events=False)
    check_secret(tmp_path, SECRET, has_events=False)
    with pytest.raises(Misconfigured):
        check_secret(tmp_path, None, has_events=True)


def test_a_dir_from_before_the_record_gets_it_from_the_current_setting(tmp_path: Path) -> None:
    check_secret(tmp_path, SECRET, has_events=True)
    with pytest.raises(Misconfigured):
        check_secret(tmp_path, OTHER, has_events=True)

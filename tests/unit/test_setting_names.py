"""Unknown STREAMREC_ variables stop the program: every name the Settings tree reads passes,
anything else is refused with the closest known name."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.errors import InvalidSetting
from streamrec.setting_names import (
    ANY_KEY,
    OTHER_NAMES,
    closest,
    known_names,
    refuse_unknown_names,
    unknown_names,
)
from streamrec.settings import Settings

KNOWN = known_names(Settings)


@pytest.mark.parametrize("name", [
    "STREAMREC_PSEUDONYM_SECRET",            # the level left out
    "STREAMREC_TRUST__PSEUDONYM_SECRETT",     # a letter too many
    "STREAMREC_TRUST__PSEUDONYMSECRET",       # an underscore left out
    "STREAMREC_DATA_DIRECTORY",
    "STREAMREC_SERVING_PORT",                 # one underscore between levels
    "STREAMREC_MODELS____ALS",                # an empty level
    "STREAMREC_SERVING__PORT__X",             # below a plain value
    "STREAMREC_SERVING__RATE_LIMIT_BY_SCOPE__WRITE",  # a dict with fixed keys
    "STREAMREC_EVENTS__TYPES__LIKE__WEIGHTT",  # a field of a dict's value
])
def test_an_unknown_name_is_refused_with_the_closest_known_one(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(InvalidSetting) as raised:
        Settings()
    first_line = raised.value.message.splitlines()[0]
    assert name in first_line
    assert "did you mean STREAMREC_" in first_line


def test_the_suggestions_for_the_names_users_tried() -> None:
    secret = "STREAMREC_TRUST__PSEUDONYM_SECRET"
    for typo in ("STREAMREC_PSEUDONYM_SECRET", "STREAMREC_TRUST__PSEUDONYM_SECRETT",
                 "STREAMREC_TRUST__PSEUDONYMSECRET"):
        assert closest(typo, Settings) == secret
    assert (closest("STREAMREC_EVENTS__TYPES__LIKE__WEIGHTT", Settings)
            == "STREAMREC_EVENTS__TYPES__LIKE__WEIGHT")


@pytest.mark.parametrize("name, value", [
    ("STREAMREC_DATA_DIR", "/tmp/x"),
    ("streamrec_data_dir", "/tmp/x"),          # pydantic-settings ignores case
    ("STREAMREC_TRUST__PSEUDONYM_SECRET", "s"),
    ("STREAMREC_MODELS__ALS__FACTORS", "8"),
    ("STREAMREC_MODELS__HYBRID__PRIOR", '{"bias": 0.5}'),
    ("STREAMREC_EVENTS__TYPES", '{"like": {"weight": 3}}'),
    ("STREAMREC_EVENTS__TYPES__LIKE__WEIGHT", "3"),
    ("STREAMREC_SERVING__RATE_LIMIT_BY_SCOPE__INGEST__BURST", "5"),
    ("STREAMREC_API_KEY", "k"),                  # evaluate --api-key
])
def test_every_name_something_reads_is_accepted(
        name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    Settings()


@given(st.sampled_from(KNOWN), st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
def test_every_name_of_the_settings_tree_is_known(name: str, key: str) -> None:
    name = name.replace(ANY_KEY, key.upper())
    assert unknown_names(Settings, {name: "1"}) == []


def test_the_tree_walk_reaches_every_level() -> None:
    for name in ("STREAMREC_DATA_DIR", "STREAMREC_MODELS", "STREAMREC_MODELS__HYBRID__FTRL",
                 "STREAMREC_STORAGE__SYNCHRONOUS", "STREAMREC_EVENTS__TYPES__<KEY>__WEIGHT",
                 "STREAMREC_SERVING__RATE_LIMIT_BY_SCOPE__ADMIN__PER_SECOND"):
        assert name in KNOWN


def test_other_variables_and_names_outside_the_prefix_pass() -> None:
    refuse_unknown_names(Settings, {**dict.fromkeys(OTHER_NAMES, "1"), "STREAMRECX": "1",
                                    "PATH": "/bin"})


@pytest.mark.parametrize(("name", "value", "unknown"), [
    ("STREAMREC_EVENTS__TYPES", '{"like": {"wieght": 3}}',
     "STREAMREC_EVENTS__TYPES__LIKE__WIEGHT"),
    ("STREAMREC_MODELS", '{"als": {"factorz": 8}}', "STREAMREC_MODELS__ALS__FACTORZ"),
    ("STREAMREC_SERVING", '{"Portt": 9000}', "STREAMREC_SERVING__PORTT"),
])
def test_an_unknown_key_in_a_json_value_is_refused(
        name: str, value: str, unknown: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSetting, match=unknown):
        Settings()


def test_known_keys_in_json_values_and_arguments_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMREC_EVENTS__TYPES", '{"like": {"weight": 3, "uses_value": false}}')
    monkeypatch.setenv("STREAMREC_MODELS", '{"ALS": {"Factors": 8}}')  # case: as names
    settings = Settings(serving={"port": 9000})  # type: ignore[arg-type]
    assert settings.events.types["like"].weight == 3
    assert settings.models.als.factors == 8


def test_the_log_is_read_under_its_issue_name_and_its_older_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """STREAMREC_STORAGE__LOG (issue 17's interface) and STREAMREC_STORAGE__LOG_URL (what
    deployments set before it) both choose the log; two different URLs are refused."""
    assert "STREAMREC_STORAGE__LOG" in KNOWN and "STREAMREC_STORAGE__LOG_URL" in KNOWN
    monkeypatch.setenv("STREAMREC_STORAGE__LOG", "kafka://127.0.0.1:9092/events")
    assert Settings().log_url == "kafka://127.0.0.1:9092/events"
    monkeypatch.delenv("STREAMREC_STORAGE__LOG")
    monkeypatch.setenv("STREAMREC_STORAGE__LOG_URL", "kafka://127.0.0.1:9092/older")
    assert Settings().log_url == "kafka://127.0.0.1:9092/older"
    monkeypatch.setenv("STREAMREC_STORAGE__LOG", "kafka://127.0.0.1:9092/older")
    assert Settings().log_url == "kafka://127.0.0.1:9092/older"  # the same: no conflict
    monkeypatch.setenv("STREAMREC_STORAGE__LOG", "kafka://127.0.0.1:9092/events")
    with pytest.raises(ValueError, match="STREAMREC_STORAGE__LOG and STREAMREC_STORAGE__LOG_URL"):
        Settings()
    monkeypatch.delenv("STREAMREC_STORAGE__LOG_URL")
    monkeypatch.setenv("STREAMREC_STORAGE__LOGURL", "x")
    with pytest.raises(InvalidSetting, match="STREAMREC_STORAGE__LOG"):
        Settings()


def test_the_log_settings_argument_takes_either_name() -> None:
    assert Settings(storage={"log": "memory:"}).log_url == "memory:"
    assert Settings(storage={"log_url": "memory:"}).log_url == "memory:"

"""Which pseudonym secret a data dir was written with, kept as a keyed check value.

``<data_dir>/pseudonyms.json`` says whether stored user ids are pseudonyms and, if so, holds
HMAC-SHA256(secret, a constant): the same secret gives the same value, the value does not
give the secret (nor help guess ids). A start is refused, naming what to do, when:

- the data dir holds pseudonyms and no secret, or another secret, is set: every stored
  history would silently belong to nobody;
- a secret is set for a data dir that holds raw ids: old ids would stay raw beside new
  pseudonyms, and one user's history would split in two.

A data dir without events may switch either way (the file is rewritten). A data dir from
before this file existed gets it written from the current setting at its next start.
"""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path

from pydantic import SecretStr

from streamrec.errors import Misconfigured
from streamrec.trust.pseudonyms import pseudonymise

log = logging.getLogger(__name__)

FILE = "pseudonyms.json"
_CONSTANT = "streamrec pseudonym secret check v1"
_SETTING = "STREAMREC_TRUST__PSEUDONYM_SECRET"


def check_value(secret: SecretStr) -> str:
    return pseudonymise(secret.get_secret_value().encode("utf-8"), _CONSTANT)


def check_secret(data_dir: Path, secret: SecretStr | None, has_events: bool) -> None:
    """Raise ``Misconfigured`` if ``secret`` does not fit the ids stored in ``data_dir``;
    record it when the data dir has no events yet (or no record)."""
    path = data_dir / FILE
    recorded = _read(path)
    if recorded is not None and has_events:
        _compare(path, recorded, secret)
        return
    wanted = {"pseudonymised": secret is not None,
              **({"check": check_value(secret)} if secret is not None else {})}
    if recorded != wanted:
        path.write_text(json.dumps(wanted))
        if recorded is None and has_events:
            log.warning("%s recorded from the current setting (pseudonyms %s)", path,
                        "on" if secret is not None else "off")


def _compare(path: Path, recorded: dict[str, object], secret: SecretStr | None) -> None:
    if recorded.get("pseudonymised") and secret is None:
        raise Misconfigured(f"this data dir holds pseudonymised ids ({path}): set {_SETTING} "
                            "to the secret it was written with")
    if not recorded.get("pseudonymised") and secret is not None:
        raise Misconfigured(f"this data dir holds raw user ids ({path}): pseudonymisation "
                            "cannot be turned on for it (stored ids are not rewritten, and "
                            f"each user's history would split in two); unset {_SETTING}, or "
                            "start a new data dir with it set and import the events again")
    if secret is not None and not hmac.compare_digest(str(recorded.get("check")),
                                                      check_value(secret)):
        raise Misconfigured(f"{_SETTING} is not the secret this data dir was written with "
                            f"({path}): with another secret no stored history matches its "
                            "user; set the original secret")


def _read(path: Path) -> dict[str, object] | None:
    if not path.exists():
        return None
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise Misconfigured(f"{path} is unreadable ({error}): it records which pseudonym "
                            "secret this data dir was written with; restore it from a "
                            "backup") from None
    if not isinstance(recorded, dict):
        raise Misconfigured(f"{path} is not what streamrec wrote; restore it from a backup")
    return recorded

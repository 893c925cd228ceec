"""Re-apply erasures to a restored backup.

Erasure destroys the user's data key (crypto-shredding, storage/codec.py): a backup of the
log restored beside the current key store (``user_keys.db`` kept, not restored) holds the
erased users' entries only as ciphertext no one can open; reads skip them, and
``purge_erased`` deletes them from the file. A key store restored from a backup brings the
keys of everyone erased since back, though: those users are found and erased again here.

The audit log (kept current, not restored) names each erased user or session by a digest of
the key the log stores it under (trust/audit.py). Every key in the restored log is digested
the same way; those whose digest the audit log has erased are erased again. This needs the
pseudonym secret the digests were made with: without one, the audit log names nobody.
"""

from __future__ import annotations

from streamrec.engine.identities import is_merge
from streamrec.errors import Misconfigured
from streamrec.storage.base import EventLog
from streamrec.trust.audit import AuditLog

_READ_BATCH = 10_000
ERASURES = ("user.erase", "session.erase")


def stored_keys(event_log: EventLog) -> set[str]:
    """Every key the log stores a user or session under (merges name both). Scans it all."""
    keys: set[str] = set()
    after = 0
    while batch := event_log.read(after, _READ_BATCH):
        for entry in batch:
            keys.add(entry.event.user_id)
            if is_merge(entry.event):
                keys.add(entry.event.item_id)
        after = batch[-1].offset
    return keys


def keys_to_erase(audit: AuditLog, event_log: EventLog) -> list[str]:
    """The stored keys of the log whose erasure the audit log records."""
    if not audit.names_users:
        raise Misconfigured("re-applying erasures needs the pseudonym secret the erasures were "
                            "recorded under (STREAMREC_TRUST__PSEUDONYM_SECRET): without it the "
                            "audit log names nobody")
    erased = audit.targets(ERASURES)
    return sorted(key for key in stored_keys(event_log)
                  if audit.user_target(key) in erased or audit.session_target(key) in erased)

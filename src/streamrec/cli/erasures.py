"""streamrec reapply-erasures: after restoring a backup, make sure everyone erased since
stays erased (engine/reapply.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.options import DataDir, build_settings
from streamrec.engine.engine import Engine
from streamrec.engine.reapply import keys_to_erase
from streamrec.errors import StreamrecError
from streamrec.storage.dir_lock import hold_data_dir
from streamrec.storage.sqlite_log import SQLiteEventLog
from streamrec.trust.audit import AuditLog


def reapply_erasures(
    data_dir: DataDir = None,
    audit: Annotated[Path | None, typer.Option(
        help="The current audit log, if not <data-dir>/audit.db (keep it out of the restore: "
             "it holds the erasures made since the backup)", show_default=False)] = None,
) -> None:
    """After restoring a backup: remove from the log the entries of users whose data keys
    were destroyed since (unreadable already), and erase again every user and session the
    audit log records as erased whose key came back with the backup. Run with the server
    stopped and the pseudonym secret set."""
    settings = build_settings(data_dir)
    hold_data_dir(settings.data_dir)  # "with the server stopped": refused while one runs
    audit_log = AuditLog(audit or settings.data_dir / "audit.db",
                         settings.trust.pseudonym_secret)
    engine = Engine.open(settings, start_learner=False)
    try:
        purged = engine.log.purge_erased() if isinstance(engine.log, SQLiteEventLog) else 0
        keys = keys_to_erase(audit_log, engine.log)
        erased = engine.erase_stored_keys(keys) if keys else 0
        audit_log.record(None, "erasures.reapply", "backup",
                         {"keys": len(keys), "erased_events": erased, "purged": purged})
    except StreamrecError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(2) from None
    finally:
        engine.close()
        audit_log.close()
    typer.echo(f"removed {purged} unreadable entries of users erased since the backup; "
               f"re-applied the erasure of {len(keys)} users or sessions whose keys came "
               f"back with it: {erased} events erased")

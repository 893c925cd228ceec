"""streamrec keys: create, list and revoke API keys (stored as hashes in <data-dir>/keys.db)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from streamrec.cli.options import DataDir, RedisUrl, build_settings
from streamrec.errors import StreamrecError
from streamrec.settings import Settings
from streamrec.trust.audit import AuditLog
from streamrec.trust.keys import KeyRing, parse_scopes, revoked_keys

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys; reopen a "
                  "server whose keys are all revoked.")


def _open(settings: Settings) -> tuple[KeyRing, AuditLog]:
    return (KeyRing(settings.data_dir / "keys.db", revoked_keys(settings)),
            AuditLog(settings.data_dir / "audit.db"))


def _fail(error: StreamrecError) -> typer.Exit:
    typer.echo(f"error: {error.message}", err=True)
    return typer.Exit(2)


@app.command()
def create(
    scope: Annotated[list[str], typer.Option("--scope", help="ingest, read or admin (admin "
                                             "implies all); repeat for several")],
    data_dir: DataDir = None,
) -> None:
    """Create a key. The key is printed once, alone on the last line: store it now."""
    keys, audit = _open(build_settings(data_dir))
    try:
        record, key = keys.create(parse_scopes(scope))
    except StreamrecError as error:
        raise _fail(error) from None
    audit.record(None, "key.create", f"key:{record.id}", {"scopes": sorted(record.scopes)})
    typer.echo(f"created key {record.id} with scopes {','.join(sorted(record.scopes))}; "
               "it is shown only once:", err=True)
    typer.echo(key)


@app.command("list")
def list_keys(data_dir: DataDir = None) -> None:
    """Every key: id, scopes, when created, whether revoked (never the key itself)."""
    keys, _ = _open(build_settings(data_dir))
    for key in keys.list():
        created = dt.datetime.fromtimestamp(key.created_at, dt.UTC).isoformat(timespec="seconds")
        state = "revoked" if key.is_revoked else "active"
        typer.echo(f"{key.id}\t{','.join(sorted(key.scopes))}\t{created}\t{state}")


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id, from 'keys list'")],
           data_dir: DataDir = None, redis: RedisUrl = None) -> None:
    """Revoke a key; running servers refuse it from their next request (replicas: with
    --redis, every replica within a second)."""
    settings = build_settings(data_dir)
    if redis is not None:
        settings.replicas.redis_url = redis
    keys, audit = _open(settings)
    try:
        record = keys.revoke(key_id)
    except StreamrecError as error:
        raise _fail(error) from None
    audit.record(None, "key.revoke", f"key:{record.id}", {})
    typer.echo(f"revoked key {record.id}")


@app.command("open-access")
def open_access(data_dir: DataDir = None) -> None:
    """Let a loopback server take requests without a key again, once every key is revoked.
    Revoking the last key alone never does that (nobody gets in); creating a key undoes it."""
    keys, audit = _open(build_settings(data_dir))
    try:
        keys.open_access()
    except StreamrecError as error:
        raise _fail(error) from None
    audit.record(None, "keys.open-access", "server", {})
    typer.echo("opened: a server on loopback over this data dir takes requests without a key "
               "until a key is created ('streamrec keys create')")

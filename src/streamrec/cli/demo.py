"""streamrec demo and streamrec generate: a synthetic shop to try streamrec at once."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from streamrec.cli.loading import append_events, console, upsert_items
from streamrec.cli.options import DataDir, Host, Port, build_settings
from streamrec.cli.serve import open_engine_with_progress, run_server

generate_app = typer.Typer(no_args_is_help=True, help="Write synthetic data files.")


def demo(
    data_dir: DataDir = None,
    host: Host = None,
    port: Port = None,
    users: Annotated[int, typer.Option(help="Users in the generated shop")] = 1_000,
    items: Annotated[int, typer.Option(help="Items in the generated shop")] = 2_000,
    events: Annotated[int, typer.Option(help="Events in the generated history")] = 50_000,
) -> None:
    """Generate a demo shop into --data-dir (once: an existing one is reused), then serve it.
    Its history ends now; its categories have a shop's names (jackets, coats, shoes, ...)
    and its events no event ids, so none collides with one you post."""
    from streamrec.datagen import GeneratorConfig, shift_to_end_at, shifted_events, shifted_items

    settings = build_settings(data_dir, host=host, port=port)
    engine = open_engine_with_progress(settings, start_learner=False)
    try:
        if engine.log.count() == 0:
            config = GeneratorConfig(n_users=users, n_items=items, n_events=events)
            console.print(f"generating a demo shop: {items:,} items, {users:,} users, "
                          f"{events:,} events, the newest now")
            shift = shift_to_end_at(config, time.time())
            upsert_items(engine, (i for chunk in shifted_items(config, shift) for i in chunk))
            append_events(engine, (e for chunk in shifted_events(config, shift) for e in chunk),
                          total=events)
    finally:
        engine.close()
    port = settings.serving.port
    console.print(f"try: curl -s 'localhost:{port}/v1/users/u1/recommendations?k=5'")
    run_server(settings)


@generate_app.command("events")
def generate_events_file(
    file: Annotated[Path, typer.Argument(help="JSON lines; .gz to compress")],
    users: Annotated[int, typer.Option()] = 1_000,
    items: Annotated[int, typer.Option()] = 2_000,
    events: Annotated[int, typer.Option()] = 50_000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """A synthetic event log (views, clicks, carts, purchases) for `import events`."""
    from streamrec.datagen import GeneratorConfig, write_events

    config = GeneratorConfig(n_users=users, n_items=items, n_events=events, seed=seed)
    console.print(f"wrote {write_events(file, config):,} events to {file}")


@generate_app.command("items")
def generate_items_file(
    file: Annotated[Path, typer.Argument(help="JSON lines; .gz to compress")],
    items: Annotated[int, typer.Option()] = 2_000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """The synthetic catalogue matching `generate events` with the same --items and --seed."""
    from streamrec.datagen import GeneratorConfig, write_items

    config = GeneratorConfig(n_items=items, seed=seed)
    console.print(f"wrote {write_items(file, config):,} items to {file}")

"""Trust: API keys and scopes, pseudonymised user ids, the audit log, SQLite scrubbing.

Nothing here imports the engine: the engine composes erasure from these pieces
(engine/engine.py, engine/replay.py)."""

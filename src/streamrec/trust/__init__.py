"""Trust: API keys and scopes, pseudonymised user ids, the audit log, SQLite scrubbing."""

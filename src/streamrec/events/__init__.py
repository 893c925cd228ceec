"""Ingestion: validate events, weigh them by type, map string ids to dense indices."""

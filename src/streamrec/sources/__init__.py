"""The candidate sources, one module each; ``SOURCES`` is the registry the ranker, the
recommender and evaluation read. Adding a source: its module here (``SOURCE = Source(...)``)
and one line below, at the place of its columns among the ranker's features."""

from __future__ import annotations

from importlib import import_module

from streamrec.sources.base import FEATURE_BLOCKS, FEATURE_KINDS, Registry, Source

__all__ = ["FEATURE_BLOCKS", "FEATURE_KINDS", "SOURCES", "Registry", "Source"]

SOURCES = Registry(import_module(f"{__name__}.{module}").SOURCE for module in (
    "cooccurrence",
    "als",
    "content",
    "popularity",
    "sequence",
    "ease",
))

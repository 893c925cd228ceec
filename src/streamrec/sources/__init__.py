"""The candidate sources, one module each; ``SOURCES`` is the registry the ranker, the
recommender and evaluation read. Adding a source: its module, and its entry below."""

from __future__ import annotations

from streamrec.sources import als, content, cooccurrence, popularity
from streamrec.sources.base import FEATURE_BLOCKS, FEATURE_KINDS, Registry, Source

__all__ = ["FEATURE_BLOCKS", "FEATURE_KINDS", "SOURCES", "Registry", "Source"]

SOURCES = Registry(module.SOURCE for module in (
    cooccurrence,
    als,
    content,
    popularity,
))

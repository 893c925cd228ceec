"""streamrec: a self-hosted recommendation engine that learns from every event."""

__version__ = "0.1.0"

"""Python client for the streamrec HTTP API.

>>> from streamrec_client import Client
>>> with Client("http://127.0.0.1:8000") as client:  # doctest: +SKIP
...     client.send_events([{"user_id": "u1", "item_id": "i1", "type": "view"}])
...     client.recommendations("u1", k=5).item_ids
"""

from streamrec_client.asynchronous import AsyncClient
from streamrec_client.calls import RetryPolicy, StreamrecError
from streamrec_client.models import (
    Appended,
    Item,
    Merged,
    Recommendations,
    RecommendedItem,
    Similar,
    Stats,
)
from streamrec_client.sync import Client

__all__ = ["Appended", "AsyncClient", "Client", "Item", "Merged", "RecommendedItem",
           "Recommendations", "RetryPolicy", "Similar", "Stats", "StreamrecError"]

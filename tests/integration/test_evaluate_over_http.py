"""``streamrec evaluate --url``'s adapter (evaluation/peers/streamrec_engine.py) against a real
server: the data's catalogue is sent before the stream, as the in-process engine is given it,
so the content source is measured over HTTP too; events go one POST each and lists come back
in the protocol's dense ids."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from streamrec.evaluation.dense_events import DenseEvents
from streamrec.evaluation.peers import PeerContext
from streamrec.evaluation.peers.streamrec_engine import StreamrecHTTPPeer
from streamrec.types import Event, Item


def test_the_catalogue_is_sent_before_the_stream_and_lists_come_back_in_dense_ids(
        start_server: Any) -> None:
    server = start_server()
    events = DenseEvents.from_events(
        Event(f"u{n % 4}", f"i{n % 6}", "view", 1_000.0 + n) for n in range(24))
    items = tuple(Item(f"i{n}", {"category": f"c{n % 2}"}, text=f"thing number {n}")
                  for n in range(8))  # i6 and i7: in the catalogue, in no event
    context = PeerContext(events.user_ids, events.item_ids, refit_every=len(events),
                          items=items)
    peer = StreamrecHTTPPeer(server.url, context)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for item in items:
                found = client.get(f"/v1/items/{item.item_id}").json()
                assert found["attributes"] == dict(item.attributes)
                assert found["text"] == item.text
            assert client.get("/v1/stats").json()["events"] == 0  # nothing learned yet
            peer.learn(events)
            assert client.get("/v1/stats").json()["events"] == len(events)
        user = events.user_ids.index("u0")
        listed = peer.recommend(user, 5, np.zeros(0, np.int64), 0.0)
        assert 0 < listed.size <= 5 and len(set(listed.tolist())) == listed.size
        assert set(listed.tolist()) <= set(range(len(items)))  # dense ids, catalogue's last
    finally:
        peer.close()

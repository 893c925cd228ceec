"""``Client``: the streamrec API over one httpx connection pool, retried and typed."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from streamrec_client import calls
from streamrec_client.calls import (
    DEFAULT_MAX_BATCH,
    Call,
    Consistency,
    RetryPolicy,
    StreamrecError,
)
from streamrec_client.models import Appended, Item, Merged, Recommendations, Similar, Stats


class Client:
    """``Client("http://127.0.0.1:8000", api_key=None)``; use it as a context manager or call
    ``close()``. Connection errors, 5xx and 429 are retried (``retry``), after the server's
    ``Retry-After`` when it sends one; every event gets its ``event_id`` before the first try,
    so a retried batch is never stored twice."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, max_batch: int = DEFAULT_MAX_BATCH,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.max_batch = max_batch
        self.consistency = Consistency()
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers=calls.auth_headers(api_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # -- events and items ------------------------------------------------------------------
    def send_events(self, events: Iterable[Mapping[str, Any]]) -> Appended:
        """Store events (dicts as the API takes them), in batches of at most ``max_batch``;
        a batch the server finds too big (413) is halved until it takes the halves."""
        total = Appended(0, 0, 0)
        for batch in calls.batches(calls.ensure_event_ids(events), self.max_batch):
            total += self._send_batch(batch)
        return total

    def _send_batch(self, batch: list[dict[str, Any]]) -> Appended:
        try:
            return Appended.from_json(self._do(calls.events(batch)))
        except StreamrecError as error:
            if not calls.can_split(error, batch):
                raise
        half = len(batch) // 2  # a 413 stored nothing
        return self._send_batch(batch[:half]) + self._send_batch(batch[half:])

    def upsert_items(self, items: Iterable[Mapping[str, Any]]) -> int:
        return int(self._do(calls.upsert_items(items))["upserted"])

    def put_item(self, item_id: str, *, attributes: Mapping[str, Any] | None = None,
                 text: str | None = None, available: bool | None = None) -> Item:
        fields = {"attributes": attributes, "text": text, "available": available}
        return Item.from_json(self._do(calls.put_item(item_id, fields)))

    def get_item(self, item_id: str) -> Item:
        return Item.from_json(self._do(calls.get_item(item_id)))

    # -- lists -----------------------------------------------------------------------------
    def recommendations(self, user_id: str, k: int = 10, **options: Any) -> Recommendations:
        """Options by their API names: exclude_seen, exclude, filter, boost,
        max_per_category, diversity_by, after, fields."""
        return Recommendations.from_json(self._do(calls.recommendations(user_id, k, options)))

    def session_recommendations(self, session_id: str, k: int = 10,
                                **options: Any) -> Recommendations:
        call = calls.session_recommendations(session_id, k, options)
        return Recommendations.from_json(self._do(call))

    def popular(self, k: int = 10, **options: Any) -> Recommendations:
        return Recommendations.from_json(self._do(calls.popular(k, options)))

    def similar(self, item_id: str, k: int = 10,
                fields: str | Iterable[str] | None = None) -> Similar:
        return Similar.from_json(self._do(calls.similar(item_id, k, fields)))

    # -- sessions, users, operations -------------------------------------------------------
    def merge_session(self, session_id: str, user_id: str) -> Merged:
        return Merged.from_json(self._do(calls.merge_session(session_id, user_id)))

    def erase_user(self, user_id: str) -> int:
        return int(self._do(calls.erase_user(user_id))["erased_events"])

    def export_user(self, user_id: str) -> dict[str, Any]:
        return self._do(calls.export_user(user_id))

    def erase_session(self, session_id: str) -> int:
        return int(self._do(calls.erase_session(session_id))["erased_events"])

    def stats(self) -> Stats:
        return Stats.from_json(self._do(calls.stats()))

    # -- one call, retried -----------------------------------------------------------------
    def _do(self, call: Call) -> dict[str, Any]:
        headers = self.consistency.headers() if call.is_read else {}
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = self._http.request(call.method, call.path, params=call.params,
                                              json=call.body, headers=headers)
            except httpx.TransportError:
                if last:
                    raise
                time.sleep(self.retry.delay(attempt, None))
                continue
            if calls.should_retry(response) and not last:
                time.sleep(self.retry.delay(attempt, response))
                continue
            return calls.answer(response, call, self.consistency)
        raise AssertionError("unreachable: the last attempt returns or raises")

"""``AsyncClient``: ``Client``'s methods as coroutines, over httpx's async pool."""

from __future__ import annotations

import asyncio
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


class AsyncClient:
    """``AsyncClient("http://127.0.0.1:8000", api_key=None)``, as ``Client`` with ``await``;
    use it as an async context manager or call ``aclose()``. Retries and event ids as
    ``Client``'s."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, max_batch: int = DEFAULT_MAX_BATCH,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.max_batch = max_batch
        self.consistency = Consistency()
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport,
                                  headers=calls.auth_headers(api_key))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        await self.aclose()

    # -- events and items ------------------------------------------------------------------
    async def send_events(self, events: Iterable[Mapping[str, Any]]) -> Appended:
        """Store events (dicts as the API takes them), in batches of at most ``max_batch``;
        a batch the server finds too big (413) is halved until it takes the halves."""
        total = Appended(0, 0, 0)
        for batch in calls.batches(calls.ensure_event_ids(events), self.max_batch):
            total += await self._send_batch(batch)
        return total

    async def _send_batch(self, batch: list[dict[str, Any]]) -> Appended:
        try:
            return Appended.from_json(await self._do(calls.events(batch)))
        except StreamrecError as error:
            if not calls.can_split(error, batch):
                raise
        half = len(batch) // 2  # a 413 stored nothing
        return await self._send_batch(batch[:half]) + await self._send_batch(batch[half:])

    async def upsert_items(self, items: Iterable[Mapping[str, Any]]) -> int:
        return int((await self._do(calls.upsert_items(items)))["upserted"])

    async def put_item(self, item_id: str, *, attributes: Mapping[str, Any] | None = None,
                 text: str | None = None, available: bool | None = None) -> Item:
        fields = {"attributes": attributes, "text": text, "available": available}
        return Item.from_json(await self._do(calls.put_item(item_id, fields)))

    async def get_item(self, item_id: str) -> Item:
        return Item.from_json(await self._do(calls.get_item(item_id)))

    # -- lists -----------------------------------------------------------------------------
    async def recommendations(self, user_id: str, k: int = 10,
                              **options: Any) -> Recommendations:
        """Options by their API names: exclude_seen, exclude, filter, boost,
        max_per_category, diversity_by, after, fields."""
        call = calls.recommendations(user_id, k, options)
        return Recommendations.from_json(await self._do(call))

    async def session_recommendations(self, session_id: str, k: int = 10,
                                **options: Any) -> Recommendations:
        call = calls.session_recommendations(session_id, k, options)
        return Recommendations.from_json(await self._do(call))

    async def popular(self, k: int = 10, **options: Any) -> Recommendations:
        return Recommendations.from_json(await self._do(calls.popular(k, options)))

    async def similar(self, item_id: str, k: int = 10,
                fields: str | Iterable[str] | None = None) -> Similar:
        return Similar.from_json(await self._do(calls.similar(item_id, k, fields)))

    # -- sessions, users, operations -------------------------------------------------------
    async def merge_session(self, session_id: str, user_id: str) -> Merged:
        return Merged.from_json(await self._do(calls.merge_session(session_id, user_id)))

    async def erase_user(self, user_id: str) -> int:
        return int((await self._do(calls.erase_user(user_id)))["erased_events"])

    async def export_user(self, user_id: str) -> dict[str, Any]:
        body: dict[str, Any] = await self._do(calls.export_user(user_id))
        return body

    async def erase_session(self, session_id: str) -> int:
        return int((await self._do(calls.erase_session(session_id)))["erased_events"])

    async def stats(self) -> Stats:
        return Stats.from_json(await self._do(calls.stats()))

    # -- one call, retried -----------------------------------------------------------------
    async def _do(self, call: Call) -> dict[str, Any]:
        headers = self.consistency.headers() if call.is_read else {}
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            try:
                response = await self._http.request(call.method, call.path,
                                                    params=call.params, json=call.body,
                                                    headers=headers)
            except httpx.TransportError:
                if last:
                    raise
                await asyncio.sleep(self.retry.delay(attempt, None))
                continue
            if calls.should_retry(response) and not last:
                await asyncio.sleep(self.retry.delay(attempt, response))
                continue
            return calls.answer(response, call, self.consistency)
        raise AssertionError("unreachable: the last attempt returns or raises")

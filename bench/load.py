"""A small closed-loop HTTP load generator: N concurrent clients, each sending its next request
as soon as the last one answered. Runs in its own process so its CPU is not the server's."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import httpx
import numpy as np


async def _client(url: str, make: Callable[[int], tuple[str, str, object | None]],
                  count: int, offset: int, latencies: list[float], errors: list[int]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for n in range(count):
            method, path, body = make(offset + n)
            started = time.perf_counter()
            response = await client.request(method, path, json=body)
            latencies.append(time.perf_counter() - started)
            if response.status_code >= 400:
                errors.append(response.status_code)


def run(url: str, make: Callable[[int], tuple[str, str, object | None]], clients: int,
        per_client: int) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        await asyncio.gather(*(_client(url, make, per_client, c * per_client, latencies,
                                       errors) for c in range(clients)))

    started = time.perf_counter()
    asyncio.run(main())
    return latencies, len(errors), time.perf_counter() - started


if __name__ == "__main__":  # python bench/load.py URL users clients requests
    url = sys.argv[1]
    users, clients, requests = (int(a) for a in sys.argv[2:5])
    rng = np.random.default_rng(0)
    picks = rng.integers(0, users, size=clients * requests)
    lat, errors, wall = run(url, lambda n: ("GET", f"/v1/users/u{picks[n]}/recommendations?k=10",
                                            None), clients, requests)
    ms = np.array(lat) * 1000
    print(f"{np.percentile(ms, 50):.3f} {np.percentile(ms, 99):.3f} {len(lat) / wall:.1f} {errors}")

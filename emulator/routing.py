"""Traffic split of the active config: which served entity answers an endpoint-level invocation."""

from __future__ import annotations

import random
from typing import Protocol


class Router(Protocol):
    def choose(self) -> str: ...


class WeightedRandomRouter:
    """Independent weighted draws from a seeded generator: like the real split, statistically right
    over many requests, and reproducible run to run for the same seed, endpoint and config."""

    def __init__(self, routes: tuple[tuple[str, int], ...], seed: str):
        self._names = [name for name, pct in routes if pct > 0]
        self._weights = [pct for _, pct in routes if pct > 0]
        self._rng = random.Random(seed)

    def choose(self) -> str:
        return self._rng.choices(self._names, weights=self._weights)[0]


class SmoothRoundRobinRouter:
    """Smooth weighted round-robin (as nginx does): exact shares over every 100 requests, with the
    entities interleaved rather than served in runs."""

    def __init__(self, routes: tuple[tuple[str, int], ...]):
        self._weights = {name: pct for name, pct in routes if pct > 0}
        self._current = dict.fromkeys(self._weights, 0)

    def choose(self) -> str:
        total = sum(self._weights.values())
        for name, weight in self._weights.items():
            self._current[name] += weight
        chosen = max(self._current, key=self._current.__getitem__)
        self._current[chosen] -= total
        return chosen


def make_router(mode: str, routes: tuple[tuple[str, int], ...], seed: str) -> Router:
    return SmoothRoundRobinRouter(routes) if mode == "round_robin" else WeightedRandomRouter(routes, seed)

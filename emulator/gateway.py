"""AI Gateway on the data plane: rate limits per principal, and fallback to another served entity.

Rate limits (`ai_gateway.rate_limits[{calls, renewal_period: minute, key, principal}]`, key `endpoint`
when left out, as the sdk documents):
- `endpoint`: one budget shared by every caller;
- `user` / `service_principal`: a budget per caller of that kind; with `principal`, for that one caller
  only, and then it replaces the default (principal-less) limit of the same key for that caller;
- `user_group` with `principal`: one budget shared by the members of that group.
Every limit that applies to a caller must have room, or the request is answered 429
REQUEST_LIMIT_EXCEEDED with `Retry-After` (seconds until the window renews), before any served entity
is chosen, so it is not counted in the entity's metrics. Choices where Databricks does not document the
behaviour: the shared group budget, specific-over-default for the same key, fixed windows starting at
a budget's first call, the error text. A `renewal_period: minute` lasts `rate_limit_period_seconds`.

Fallback (`ai_gateway.fallback_config.enabled`): when the routed served entity answers a 5xx, the
request is tried on the other served entities in the order of the served entity list (starting after
the one that failed, wrapping around), until one answers; if all fail, the last error is returned.
Requests to one served entity (`/served-models/{name}/invocations`) never fall back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import ApiError
from emulator.settings import PrincipalSpec

Budget = tuple[str, str]  # (key, whose): ("endpoint", ""), ("user", "a@x.com"), ("user_group", "ops")


@dataclass
class Window:
    started: float
    calls: int = 0


@dataclass
class RateLimiter:
    """The budgets of one endpoint's rate limits; replaced whenever its AI Gateway config is."""

    rules: list[dict[str, Any]]
    period_seconds: float
    windows: dict[tuple[int, Budget], Window] = field(default_factory=dict)

    def admit(self, endpoint_name: str, caller: PrincipalSpec) -> None:
        """Count the call against every budget that applies, or raise 429 if one is used up."""
        now = time.monotonic()
        applicable = self._applicable(caller)
        for index, budget in applicable:
            window = self._window(index, budget, now)
            limit = self.rules[index]["calls"]
            if window.calls >= limit:
                retry_after = max(1, math.ceil(window.started + self.period_seconds - now))
                raise ApiError(
                    429,
                    "REQUEST_LIMIT_EXCEEDED",
                    f"Rate limit exceeded on endpoint '{endpoint_name}': {limit} calls per minute "
                    f"for {_describe(budget)}.",
                    {"Retry-After": str(retry_after)},
                )
        for index, budget in applicable:
            self._window(index, budget, now).calls += 1

    def _window(self, index: int, budget: Budget, now: float) -> Window:
        window = self.windows.get((index, budget))
        if window is None or now >= window.started + self.period_seconds:
            window = self.windows[(index, budget)] = Window(started=now)
        return window

    def _applicable(self, caller: PrincipalSpec) -> list[tuple[int, Budget]]:
        named = {(r.get("key"), r.get("principal")) for r in self.rules if r.get("principal")}
        found = []
        for index, rule in enumerate(self.rules):
            if rule.get("calls") is None:
                continue  # a token limit: LLM endpoints only, nothing to count for a custom model
            key, principal = rule.get("key", "endpoint"), rule.get("principal")
            if key == "endpoint":
                found.append((index, ("endpoint", "")))
            elif key == "user_group":
                if principal in caller.groups:
                    found.append((index, ("user_group", principal)))
            elif key == caller.kind:  # "user" or "service_principal"
                if principal == caller.principal:
                    found.append((index, (key, caller.principal)))
                elif principal is None and (key, caller.principal) not in named:
                    found.append((index, (key, caller.principal)))
        return found


def _describe(budget: Budget) -> str:
    key, whose = budget
    return {
        "endpoint": "the whole endpoint",
        "user": f"user '{whose}'",
        "service_principal": f"service principal '{whose}'",
        "user_group": f"group '{whose}'",
    }[key]


def fallback_order(entity_names: list[str], failed: str) -> list[str]:
    """The other served entities, in list order starting after the one that failed."""
    if failed not in entity_names:
        return []
    start = entity_names.index(failed)
    return entity_names[start + 1 :] + entity_names[:start]

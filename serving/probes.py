"""Readiness of external models: a probe request, not a warmup.

An external model has no container of ours that could be cold: it is ready when the workspace forwards a
request to the provider and an answer comes back (credentials resolved from the secret, model name known to
the provider, task as declared). The probe is the smallest request of the model's task: one token of chat or
completion, one embedding. Its answer shows where the configuration is wrong, in the provider's words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from serving.workspace import Invocation

PROBE_BODIES: dict[str, dict[str, Any]] = {
    "llm/v1/chat": {"messages": [{"role": "user", "content": "ping"}], "max_tokens": 1},
    "llm/v1/completions": {"prompt": "ping", "max_tokens": 1},
    "llm/v1/embeddings": {"input": "ping"},
}
"""The smallest request of each external-model task (Databricks' chat, completions and embeddings formats)."""

PROBE_FIX = "the external model's provider, model name or `config` (and the secret its credential references)"


def probe_body(task: str) -> dict[str, Any]:
    """The probe request for `task`; a task without one is refused before anything is sent."""
    if task not in PROBE_BODIES:
        raise ValueError(f"no probe request for task {task!r}; tasks are {', '.join(PROBE_BODIES)}")
    return PROBE_BODIES[task]


class Answering(Protocol):
    """What sends a request until it is answered (`serving.warmup.Warmup.answer`)."""

    def __call__(
        self, served_entity: str | None, deadline: float, body: Mapping[str, Any] | None, what: str, fix: str
    ) -> tuple[Invocation, int]: ...


def probe_external_models(
    probes: Mapping[str, str], answer: Answering, clock: Callable[[], float], deadline: float
) -> dict[str, dict[str, Any]]:
    """Probe each external model (served entity name -> task) directly at its served entity, in turn.

    Returns per served entity what readiness records for a warmed entity (`EntityWarmup` fields): attempts,
    seconds until the first answer, and that answer's latency. A refused probe raises the caller's
    `ReadinessError` with the provider's answer.
    """
    results: dict[str, dict[str, Any]] = {}
    for name, task in probes.items():
        started = clock()
        invocation, attempts = answer(name, deadline, probe_body(task), f"a {task} probe request", PROBE_FIX)
        results[name] = {
            "version": "",
            "attempts": attempts,
            "first_request_seconds": round(clock() - started, 3),
            "warm_latency_ms": round(invocation.seconds * 1000, 1),
        }
    return results

"""One way to wait: look, decide, pause, until the awaited state is reached or the deadline would pass.

Every wait in serving/ (an endpoint becoming ready, a served entity answering, a deployment being watched,
an update settling, a bake running its course) is a `poll`: the caller's `look` reads the world once and
says `Done(value)` or `Pending(state)`; `poll` keeps the count, the deadline, the pauses and the last state
seen, so no caller writes its own loop. Shaped like databricks-sdk-py's `retries.poll` (a function that
says "continue" or "halt", a linear backoff, a timeout naming the last error), with the clock and the
pause injected so that tests count looks instead of measuring time.

- Deadline: `poll` gives up when the next look would come after the deadline, never sleeping past it, and
  raises `WaitTimedOut` naming what was awaited and the last state seen (callers turn it into their message).
- Backoff: `backoff(attempt, state)` says how long to pause after look number `attempt` saw `state`; it may
  read the state (a Retry-After, whether anything deploys).
- Cancellation point: every pause, a zero one included, goes through the `sleep` given; the plugin's sleep
  raises `Cancelled` once the plugin is told to stop, so a stopped wait ends at its next pause.
- Halting: a `look` that finds a failure raises its own error; `poll` lets it through.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
S = TypeVar("S")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Cancelled(Exception):  # noqa: N818 - a state, not a failure
    """The wait was stopped (Ctrl-C): raised by the `sleep` a caller passes in once it is told to stop."""


@dataclass(frozen=True)
class Done(Generic[T]):
    """The awaited state is reached: `poll` returns `value`."""

    value: T


@dataclass(frozen=True)
class Pending(Generic[S]):
    """Not there yet: `state` is what this look saw (kept as the last state seen, given to the backoff)."""

    state: S


class WaitTimedOut(Exception, Generic[S]):  # noqa: N818 - named after the outcome, as TimeoutError is
    """The deadline came before the awaited state. Carries what was awaited and the last state seen."""

    def __init__(self, awaited: str, last: S, attempts: int, waited: float):
        self.awaited = awaited
        self.last = last
        """What the last look saw."""
        self.attempts = attempts
        """How many looks were made."""
        self.waited = waited
        """Seconds from the start of the wait until it gave up."""
        super().__init__(f"{awaited}: not reached within {waited:.1f}s after {attempts} look(s); last state: {last}")


@dataclass(frozen=True)
class Polled(Generic[T]):
    """What a finished wait returns: the look's value and how many looks it took."""

    value: T
    attempts: int


def poll(
    look: Callable[[int], Done[T] | Pending[S]],
    *,
    awaited: str,
    deadline: float,
    backoff: Callable[[int, S], float],
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> Polled[T]:
    """Call `look(attempt)` (1, 2, ...) until it is `Done`, pausing `backoff(attempt, state)` between looks.

    Raises `WaitTimedOut` when the pause after a look would end after `deadline` (`math.inf`: no deadline; the
    look then bounds the wait itself). Whatever `look` or `sleep` raise (a failure, `Cancelled`) ends the wait.
    """
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        outcome = look(attempt)
        if isinstance(outcome, Done):
            return Polled(outcome.value, attempt)
        now = clock()
        pause = backoff(attempt, outcome.state)
        if now + pause > deadline:
            raise WaitTimedOut(awaited, outcome.state, attempt, now - started)
        sleep(pause)


@dataclass(frozen=True)
class PollPolicy:
    """How often to look and how long to tolerate a stale config.

    The defaults poll like databricks-sdk's waiter (`min(attempt, 10)` seconds), so readiness makes no
    more GET calls than the sdk would over the same provisioning time.
    """

    first_delay: float = 1.0
    max_delay: float = 10.0
    jitter: float = 0.1
    """Fraction of each delay added at random, so that many endpoints do not poll in lockstep."""
    stale_config_grace: float = 60.0
    """How long NOT_UPDATING with an active config other than the declared one is taken for lag."""
    progress_every: float = 15.0
    """Seconds between progress lines while nothing changes."""

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return retry_after
        base = min(self.first_delay * attempt, self.max_delay)
        return base * (1 + random.uniform(0, self.jitter))

    def backoff(self, attempt: int, _state: object = None) -> float:
        """`delay` as `poll`'s backoff, for a wait whose state does not change the pause."""
        return self.delay(attempt)


DEFAULT_POLICY = PollPolicy()
"""The sdk waiter's pace: what every wait uses unless its caller passes another policy."""

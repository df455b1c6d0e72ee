"""The Create/Update work in flight, and how Cancel stops it: each run on the plugin's thread pool, registered
until its thread is done, settled (a rollout's last good split back, confirmed) when the deployment stops.

Why this shape (../shared/notes/pulumi-engine.md, read from the engine's source): the engine sends Cancel on
Ctrl-C (30 s) and again at the end of every deployment, then SIGINT, then SIGKILL 5 s later; a CLI killed
with SIGKILL sends nothing at all. Every one of those ends in `Runs.stop`, which is idempotent.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from provider.engine_log import EngineLog
from provider.functions import FunctionError
from provider.implementations import Work
from serving.preflight import PreflightError
from serving.traffic_shift import RolloutError
from serving.verification import Cancelled, ReadinessError
from serving.workspace import ServingApiError, WorkspaceConfigError

STOP_SECONDS = 10.0
"""How long Cancel waits for a stopped run's thread to come to rest (an HTTP call under way) first."""
# Failures whose message is for the user as it is; a workspace that cannot be reached or authenticated to is
# bad input: its message names what to set.
EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    ReadinessError,
    RolloutError,
    ServingApiError,
    PreflightError,
    FunctionError,
    WorkspaceConfigError,
)


class PluginError(Exception):
    """A failure whose message is for the user as it is."""


@dataclass
class InFlight:
    """A Create/Update at work."""

    urn: str
    name: str
    work: Work
    future: asyncio.Future[dict[str, Any]]
    outcome: str = ""
    """Once cancelled: where things stand (for a rollout, where traffic is)."""
    settled: asyncio.Event = field(default_factory=asyncio.Event)


def sibling_urn(urn: str, type_token: str, name: str) -> str:
    """The URN of a resource with the same parent as `urn`'s, of another type and name."""
    head, qualified_type, _ = urn.rsplit("::", 2)
    parents = qualified_type.rsplit("$", 1)[0] + "$" if "$" in qualified_type else ""
    return f"{head}::{parents}{type_token}::{name}"


class Runs:
    """The runs in flight on the plugin's thread pool, and their stop."""

    def __init__(self, pool: ThreadPoolExecutor, engine: EngineLog, cancel_seconds: float):
        self.pool, self.engine, self.cancel_seconds = pool, engine, cancel_seconds
        self.stopping = threading.Event()
        self.in_flight: dict[str, InFlight] = {}
        self._cancelling: asyncio.Future[None] | None = None

    def sleep(self, seconds: float) -> None:
        """The pause every wait uses: it ends at once, with `Cancelled`, when the plugin is cancelled."""
        if self.stopping.wait(seconds):
            raise Cancelled()

    async def run(self, urn: str, name: str, work: Work) -> dict[str, Any]:
        """Run `work` to its outputs; a cancelled run fails with where things stand."""
        if self.stopping.is_set():
            raise PluginError(f"{name}: not started, the deployment was cancelled")
        loop = asyncio.get_running_loop()
        run = InFlight(urn, name, work, loop.run_in_executor(self.pool, work.run))
        self.in_flight[urn] = run
        # The run stays registered until its thread is done, even when this call ends first: the engine's
        # connection closing (the CLI killed) cancels the call, not the work, and a stop must still find it.
        run.future.add_done_callback(lambda _: self._forget(run))
        try:
            outputs = await asyncio.shield(run.future)
        except Cancelled:
            if self._cancelling is not None:
                await asyncio.shield(self._cancelling)
            if not run.settled.is_set():  # registered after Cancel looked: settle it here
                await self._settle(run, time.monotonic() + self.cancel_seconds)
            raise PluginError(
                f"{name}: stopped by a cancellation (Ctrl-C); {run.outcome}. The next `pulumi up` "
                "starts again from what the endpoint serves then."
            ) from None
        if work.watch is not None:
            loop.run_in_executor(self.pool, self._watch, urn, work)
        return outputs

    def _forget(self, run: InFlight) -> None:
        if self.in_flight.get(run.urn) is run:
            self.in_flight.pop(run.urn, None)

    def _watch(self, urn: str, work: Work) -> None:
        """A kind's watch, after its Create/Update returned: a failure goes on the row it names."""
        assert work.watch is not None
        target = sibling_urn(urn, *work.watch_reports_on) if work.watch_reports_on else urn
        try:
            work.watch()
        except Cancelled:
            pass  # the deployment ended (the engine's SIGINT) or was cancelled
        except EXPECTED_ERRORS as error:
            self.engine.error(target, str(error))
        except Exception as error:  # noqa: BLE001 - a watch never fails the plugin
            traceback.print_exc(file=sys.stderr)
            self.engine.warning(target, f"servingops: the deployment watch stopped: {type(error).__name__}: {error}")

    async def stop(self, budget: float) -> None:
        """Stop every run as Cancel does (a rollout's last good split back, confirmed), within `budget` seconds;
        the first stop's budget holds for a later one (Cancel, then the engine's SIGINT). Idempotent."""
        if self._cancelling is None:
            self._cancelling = asyncio.ensure_future(self._cancel(budget))
        try:
            await asyncio.wait_for(asyncio.shield(self._cancelling), timeout=budget + 1.0)
        except TimeoutError:
            pass  # a run's HTTP call outlived the budget; what is known is said in each run's outcome

    async def _cancel(self, budget: float) -> None:
        self.stopping.set()
        deadline = time.monotonic() + budget
        await asyncio.gather(*(self._settle(run, deadline) for run in list(self.in_flight.values())))

    async def _settle(self, run: InFlight, deadline: float) -> None:
        """Let a run's thread stop, then put back what it changed (a rollout's last good split)."""
        loop = asyncio.get_running_loop()
        # A stopped run sends no further config update (a cancellation point precedes each): after a short
        # wait for its HTTP call under way, the restore may start, and keeps most of the budget.
        rest = min(STOP_SECONDS, max(0.0, (deadline - time.monotonic()) / 4))
        try:
            await asyncio.wait_for(asyncio.shield(run.future), timeout=rest)
        except (TimeoutError, Cancelled):
            pass
        except Exception:  # noqa: BLE001 - the run failed on its own; its Create/Update reports it
            pass
        try:
            if run.work.restore is None:
                run.outcome = "nothing was changed by it"
            else:
                run.outcome = await loop.run_in_executor(self.pool, run.work.restore, deadline)
        except Exception as error:  # noqa: BLE001 - said in the Create/Update's message
            run.outcome = f"putting traffic back failed: {error}"
        finally:
            run.settled.set()
            # The engine may be gone (SIGINT at its end, or killed): the plugin's stderr keeps the outcome.
            try:
                print(f"servingops: {run.name} stopped: {run.outcome}", file=sys.stderr, flush=True)
            except OSError:
                pass  # nobody reads stderr any more

"""How the program behaves under the real engine, apart from what it declares.

- A bad stack file or an alias that cannot be resolved is raised as `pulumi.RunError`: the engine shows a
  RunError as its message alone, any other exception with the program's traceback ("Program failed with an
  unhandled exception"). The cause is kept, so the offline review (review/engine.py) gets the error itself.
- Ctrl-C: the engine cancels, and the language host interrupts the program with SIGINT; Python would print
  a KeyboardInterrupt traceback on the stack's row. The program stops quietly instead (exit 32: "the
  program has said what there is to say", so the host adds nothing).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import pulumi

from components.aliases import AliasError
from components.config import StackConfigError

EXIT_AFTER_MESSAGE = 32
"""The exit status Pulumi's executor and language host agree means "a message was already shown"."""


@contextmanager
def user_errors_as_messages() -> Iterator[None]:
    try:
        yield
    except (StackConfigError, AliasError) as error:
        raise pulumi.RunError(str(error)) from error


def _stop(signum: int, frame: FrameType | None) -> None:
    print("the deployment was interrupted (Ctrl-C): the program stopped", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_AFTER_MESSAGE)


def stop_quietly_on_interrupt() -> None:
    """Under the engine, SIGINT ends the program without a traceback. Under Pulumi's mock engine (the offline
    review, tests) nothing changes: that process keeps its own Ctrl-C."""
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import SETTINGS

    if isinstance(SETTINGS.monitor, MockMonitor) or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, _stop)

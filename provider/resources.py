"""Old import path of `provider.implementations` (the plugin's implementations of its resources)."""

from provider.implementations import *  # noqa: F403
from provider.implementations import KINDS, PREFLIGHT_SKIPPED, ReadinessKind, plan_of, preflight_request_of

__all__ = ["KINDS", "PREFLIGHT_SKIPPED", "ReadinessKind", "plan_of", "preflight_request_of"]

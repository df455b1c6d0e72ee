"""Identifiers and times shared by the workspace objects' bodies."""

from __future__ import annotations

import hashlib

# databricks-sdk's `ModelVersionInfo.created_at` etc. are left out: the emulator keeps no clock for them.
EPOCH_MS = 1_767_225_600_000  # 2026-01-01, a fixed time for `last_updated_timestamp`


def stable_id(*parts: str) -> str:
    """The same id for the same object on every run, so a test or a second `pulumi up` can compare them."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]

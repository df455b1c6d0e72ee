"""What a Pulumi program uses: the stack config model, the `ServingEndpoint` component, and the typed
resources of the `servingops` plugin."""

import sys as _sys
import types as _types
from typing import Any as _Any


def _retired_module(path: str) -> _types.ModuleType:
    """A module at an old path whose names resolve, on first use only, in components.legacy_dynamic."""
    module = _types.ModuleType(path)

    def __getattr__(name: str) -> _Any:  # noqa: N807 - PEP 562 module attribute hook
        from components import legacy_dynamic

        return getattr(legacy_dynamic, name)

    # A module's own attribute, not a method: PEP 562 looks it up in the module's namespace.
    setattr(module, "__getattr__", __getattr__)  # noqa: B010
    return module


# The old dynamic providers' pickles name these module paths: see components.legacy_dynamic.
for _path in ("components.readiness", "components.rollout", "components.verification"):
    _sys.modules.setdefault(_path, _retired_module(_path))

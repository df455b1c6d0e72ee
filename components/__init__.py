"""What a Pulumi program uses: the stack config model, the `ServingEndpoint` component, and the typed
resources of the `servingops` plugin."""

import sys as _sys
import types as _types


def _retired_module(path: str) -> _types.ModuleType:
    """A module at an old path whose names resolve, on first use only, in components.legacy_dynamic."""
    module = _types.ModuleType(path)

    def __getattr__(name: str):  # noqa: N807 - PEP 562 module attribute hook
        from components import legacy_dynamic

        return getattr(legacy_dynamic, name)

    module.__getattr__ = __getattr__
    return module


# The old dynamic providers' pickles name these module paths: see components.legacy_dynamic.
for _path in ("components.readiness", "components.rollout", "components.verification"):
    _sys.modules.setdefault(_path, _retired_module(_path))

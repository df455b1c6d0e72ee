"""`python -m provider ENGINE_ADDRESS`: the `servingops` plugin, as `pulumi-resource-servingops` starts it.

The engine passes its own address as the last argument (flags such as `--logtostderr` may come before
it) and reads the port from the first line of stdout.
"""

from __future__ import annotations

import asyncio
import sys

from provider.server import serve


def main(argv: list[str]) -> None:
    positional = [arg for arg in argv if not arg.startswith("-")]
    engine_address = positional[-1] if positional else None
    asyncio.run(serve(engine_address))


if __name__ == "__main__":
    main(sys.argv[1:])

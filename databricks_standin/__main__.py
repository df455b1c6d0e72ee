"""`python -m databricks_standin [ENGINE_ADDRESS]`: the stand-in databricks plugin, as the engine starts it.

The engine reads the port from the first line of stdout; the engine address (last argument) is not needed.
"""

import sys

from databricks_standin.server import serve

if __name__ == "__main__":
    positional = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    serve(positional[-1] if positional else None)

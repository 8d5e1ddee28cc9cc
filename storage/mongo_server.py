"""Runs the ``nx-27017`` MongoDB-wire server with its per-command INFO logging turned off.

The server logs every command at INFO; on the message hot path that formatting and writing costs
more CPU than the insert itself. Installing a WARNING-level root handler first makes the server's
own ``logging.basicConfig`` a no-op, so only warnings and errors reach the log.
"""

import logging
import sys

from nx_27017.nx_27017 import main

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    sys.exit(main())

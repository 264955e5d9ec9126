"""Entry point of every adapter: python -m services.adapters <department-code>

eventlet is patched first, before anything else is imported. This process never imports grpcio.
"""

import os

# psycopg's default wait (a C poll loop) would block the whole eventlet hub for every database
# round trip, serialising the workers; its select() wait goes through eventlet's green select.
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import logging  # noqa: E402
import sys  # noqa: E402

from eventlet import patcher  # noqa: E402

# Code that runs in eventlet's pool of real threads (tpool: the gRPC lookups) may log. The logging
# module's locks must then be real locks: a green lock contended by a real thread and a greenlet
# fails with "greenlet.error: Cannot switch to a different thread".
_real_threading = patcher.original("threading")
logging._lock = _real_threading.RLock()  # type: ignore[attr-defined]
logging.Handler.createLock = lambda self: setattr(self, "lock", _real_threading.RLock())  # type: ignore[method-assign]

from services.adapters.sdk.runner import run  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.adapters <department-code>  (e.g. business)")
    run(sys.argv[1])


if __name__ == "__main__":
    main()

"""Entry point of every adapter: python -m services.adapters <department-code>

eventlet is patched first, before anything else is imported. This process hosts no gRPC server
(eventlet never shares a process with one); it may call another department's desk as a gRPC
client, through services/adapters/sdk/neighbours.py.
"""

# psycopg waits for the database with its own C poll loop, which does not yield to eventlet's hub:
# the process's green threads wait while a statement runs. That suits this process: requests are
# decided in batches, one transaction for all that are waiting (sdk/service.py GroupCommit), so
# there is little database time for other green threads to fill, and the C wait costs less CPU
# per request than psycopg's select() wait through eventlet's green select (`make
# bench-adapter`). A database that stops answering mid-statement also stops this process's broker
# heartbeats, so the broker takes its unacknowledged messages back for another replica instead of
# leaving them with a process that cannot finish them.
import warnings

# nameko runs on eventlet, which warns at import that it is deprecated: nothing an operator of
# this process can act on (the user asked for nameko), so it is not printed at every start.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

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

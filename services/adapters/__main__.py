"""Entry point of every adapter: python -m services.adapters <department-code>

eventlet is patched first, before anything else is imported. This process never imports grpcio.
"""

import eventlet

eventlet.monkey_patch()

import sys  # noqa: E402

from services.adapters.sdk.runner import run  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m services.adapters <department-code>  (e.g. business)")
    run(sys.argv[1])


if __name__ == "__main__":
    main()

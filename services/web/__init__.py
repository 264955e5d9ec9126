"""The hall's web pages, served by one small Starlette app (python -m services.web): the
supervision dashboard for the inspectors. A client of the suite's gRPC services: it keeps no
state of its own and needs no front-end build (the page is HTML with a little script, updated
live over server-sent events)."""

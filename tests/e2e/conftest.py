"""The suite as separate processes, started the way `make run` does (services.suite), on free
ports, a vhost of its own and PostgreSQL schemas of its own."""

from __future__ import annotations

import pytest

from tests.support import tokens
from tests.support.processes import counter_of, whole_suite


@pytest.fixture(scope="module")
def suite(broker_url, pg_url, tmp_path_factory):
    with whole_suite(broker_url, pg_url, tmp_path_factory.mktemp("logs")) as running:
        yield running


@pytest.fixture(scope="module")
def counter(suite):
    _, env = suite
    c = counter_of(env)
    yield c
    c.close()


@pytest.fixture(scope="module")
def inspector(counter):
    """The suite as a supervisor (监察员) sees it: timelines, the chain, reports, appeals."""
    c = counter.signed_in(tokens.supervisor())
    yield c
    c.close()


@pytest.fixture(scope="module")
def operator(counter):
    """The suite as a platform operator sees it: incidents and their retries."""
    c = counter.signed_in(tokens.operator())
    yield c
    c.close()

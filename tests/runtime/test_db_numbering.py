"""db.next_number: gapless numbers in one statement, on PostgreSQL under concurrency and on SQLite."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, select

from services.runtime import db

metadata = MetaData()
counters = Table("numbering_counters", metadata, Column("series", String(10), primary_key=True),
                 Column("last", BigInteger().with_variant(Integer, "sqlite"), nullable=False))
NEXT = db.next_number(counters, "series", "last")


def take(engine, series, *, fail=False):
    with engine.begin() as conn:
        number = conn.execute(NEXT[conn.dialect.name], {"key": series}).scalar_one()
        if fail:
            raise RuntimeError("the rest of the transaction failed")
        return number


@pytest.fixture
def pg_engine(pg_url, pg_schema):
    engine = db.make_engine(pg_url, pg_schema)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'numbers.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("engine_fixture", ["pg_engine", "sqlite_engine"])
def test_numbers_start_at_one_per_key_and_a_rollback_gives_its_number_back(engine_fixture, request):
    engine = request.getfixturevalue(engine_fixture)
    assert [take(engine, "2026") for _ in range(3)] == [1, 2, 3]
    assert take(engine, "2027") == 1
    with pytest.raises(RuntimeError):
        take(engine, "2026", fail=True)
    assert take(engine, "2026") == 4


def test_concurrent_transactions_get_distinct_gapless_numbers(pg_engine):
    failures = iter([i % 5 == 0 for i in range(60)])  # every fifth transaction rolls back
    lock = threading.Lock()

    def one(_):
        with lock:
            fail = next(failures)
        try:
            return take(pg_engine, "2026", fail=fail)
        except RuntimeError:
            return None

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for n in pool.map(one, range(60)) if n is not None]
    assert sorted(numbers) == list(range(1, 49))
    with pg_engine.connect() as conn:
        assert conn.execute(select(counters.c.last)).scalar_one() == 48


@pytest.mark.parametrize("engine_fixture", ["pg_engine", "sqlite_engine"])
def test_a_block_of_numbers_in_one_statement(engine_fixture, request):
    engine = request.getfixturevalue(engine_fixture)
    with engine.begin() as conn:
        assert conn.execute(NEXT[conn.dialect.name], {"key": "2026", "count": 3}).scalar_one() == 3  # 1..3
    assert take(engine, "2026") == 4
    with engine.begin() as conn:
        assert conn.execute(NEXT[conn.dialect.name], {"key": "2026", "count": 2}).scalar_one() == 6  # 5..6

import json

import pytest
import structlog

from services.runtime import context, logging


@pytest.fixture
def reset_logging():
    """A test that configures logging writes to its own captured stdout; reset afterwards, so
    later tests never write to a closed capture."""
    yield
    structlog.reset_defaults()


def test_personal_data_is_masked_and_context_bound(reset_logging, capsys):
    log = logging.configure("unit")
    with context.scope(case_id="C1", actor_id="clerk-9"):
        log.info("hello", id_number="11010519491231002X", note="call 13904770123 about 11010519491231002X")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["case_id"] == "C1" and line["actor_id"] == "clerk-9"
    assert "19491231" not in line["id_number"]
    assert "13904770123" not in line["note"] and "11010519491231002X" not in line["note"]
    assert line["id_number"].startswith("1101") and line["id_number"].endswith("002X")

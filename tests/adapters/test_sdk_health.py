from sqlalchemy import create_engine

from services.adapters.sdk.health import Health


def call(health, path):
    got: dict[str, str] = {}
    body = b"".join(health.app({"PATH_INFO": path}, lambda status, headers: got.setdefault("status", status)))
    return got["status"], body.decode().strip()


def test_ready_only_once_started_and_while_the_database_answers(tmp_path):
    health = Health(create_engine(f"sqlite:///{tmp_path / 'adapter.db'}"))
    assert call(health, "/readyz") == ("503 Service Unavailable", "starting")
    assert call(health, "/healthz") == ("200 OK", "alive")
    health.started = True
    assert call(health, "/readyz") == ("200 OK", "ready")
    health.stopping = True
    assert call(health, "/readyz") == ("503 Service Unavailable", "stopping")


def test_a_database_that_does_not_answer_is_not_ready(tmp_path):
    health = Health(create_engine(f"sqlite:///{tmp_path / 'missing' / 'adapter.db'}"))
    health.started = True
    status, why = call(health, "/readyz")
    assert status.startswith("503") and why.startswith("database: ")

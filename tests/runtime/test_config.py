import pytest

from services.runtime import config


def test_defaults(monkeypatch):
    for name in ("AMQP_URL", "DATABASE_URL", "GRPC_PORT", "LOG_LEVEL", "CPU_NICE"):
        monkeypatch.delenv(name, raising=False)
    s = config.load("intake", default_grpc_port=50051)
    assert s.grpc_port == 50051 and s.database_url == "sqlite:///var/intake.db"
    assert s.cpu_nice == 0


@pytest.mark.parametrize(("name", "value"), [
    ("GRPC_PORT", "eighty"), ("GRPC_PORT", "70000"), ("AMQP_URL", "http://x"), ("DATABASE_URL", "mysql://x"),
    ("LOG_LEVEL", "loud"), ("DATABASE_SCHEMA", "bad-name;"), ("CPU_NICE", "20"), ("CPU_NICE", "-5"),
])
def test_bad_values_fail_fast(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name):
        config.load("intake")

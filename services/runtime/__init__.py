"""Shared runtime of every service: config, logging, gRPC bootstrap, AMQP, database, outbox."""

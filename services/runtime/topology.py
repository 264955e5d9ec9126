"""Exchanges, queues and routing keys: the one home of the broker layout (docs/architecture.md).

All traffic goes through the durable topic exchange `hall`. Every consuming queue is a durable
quorum queue that dead-letters to `hall.parked` once a message has been delivered
MAX_DELIVERIES times (or is rejected as undecodable), so a poison message never blocks its queue.
Parking is at least once: the message leaves its queue only when `hall.parked` has confirmed it,
across broker restarts.
"""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger(__name__)

EXCHANGE = "hall"
PARKED_EXCHANGE = "hall.parked"
PARKED_QUEUE = "hall.parked"
# Generous: a delivery to a consumer that dies before acking counts too, and a handler that keeps
# failing backs off (up to 2 s) between attempts, so a passing outage does not park good messages.
MAX_DELIVERIES = 20

ROUTER_QUEUE = "hall.router"
INTAKE_QUEUE = "hall.intake"
FEES_QUEUE = "hall.fees"
AUDIT_QUEUE = "hall.audit"
SUPERVISION_QUEUE = "hall.supervision"

RK_CASE_SUBMITTED = "case.submitted"
RK_CASE_WITHDRAWN = "case.withdrawn"
RK_PAYMENT_RECEIVED = "payment.received"


def rk_case_status(status: str) -> str:
    return f"case.status.{status}"


def rk_step_request(department: str) -> str:
    return f"step.{department}.request"


def rk_step_cancel(department: str) -> str:
    return f"step.{department}.cancel"


def rk_decision(department: str) -> str:
    return f"decision.{department}"


def rk_procedure(department: str) -> str:
    return f"procedure.{department}"


def rk_audit(service: str) -> str:
    return f"audit.{service}"


def department_queue(department: str) -> str:
    return f"hall.dept.{department}"


def queue_arguments() -> dict[str, Any]:
    """Arguments every consuming queue is declared with (must be identical everywhere).

    At-least-once dead-lettering (RabbitMQ 3.10+, quorum queues) requires the reject-publish
    overflow; the queues have no length limit, so it never refuses a message."""
    return {**LEGACY_QUEUE_ARGUMENTS, "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


# What versions before at-least-once parking declared. Arguments are fixed at declaration, so a
# broker that holds queues declared so keeps them (see `declare_queue`).
LEGACY_QUEUE_ARGUMENTS: dict[str, Any] = {
    "x-queue-type": "quorum",
    "x-dead-letter-exchange": PARKED_EXCHANGE,
    "x-delivery-limit": MAX_DELIVERIES,
}
LEGACY_FIX = 'set the policy in docs/operations.md ("Parked messages"), or drain and delete the queue'


def warn_legacy(queue: str) -> None:
    log.warning("queue declared by an earlier version: parking from it is at most once", queue=queue, fix=LEGACY_FIX)

PRECONDITION_FAILED = 406


def refused_arguments(exc: BaseException) -> bool:
    """True when the broker refused a declaration because the queue exists with other arguments
    (AMQP 406 PRECONDITION_FAILED; pika and py-amqp both carry `reply_code`)."""
    return getattr(exc, "reply_code", None) == PRECONDITION_FAILED


# queue -> binding keys
def bindings(departments: list[str]) -> dict[str, list[str]]:
    table = {
        ROUTER_QUEUE: [RK_CASE_SUBMITTED, RK_CASE_WITHDRAWN, "decision.*", RK_PAYMENT_RECEIVED],
        INTAKE_QUEUE: ["case.status.*"],
        # Bills at acceptance; a withdrawn or refused case stops taking payments.
        FEES_QUEUE: [RK_CASE_SUBMITTED, rk_case_status("withdrawn"), rk_case_status("refused")],
        AUDIT_QUEUE: ["audit.#", "case.status.*"],
        SUPERVISION_QUEUE: ["case.status.*", "procedure.*"],
    }
    for dept in departments:
        table[department_queue(dept)] = [f"step.{dept}.*"]
    return table


def declare_exchanges(channel: Any) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(PARKED_EXCHANGE, exchange_type="fanout", durable=True)
    channel.queue_declare(PARKED_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(PARKED_QUEUE, PARKED_EXCHANGE)


def declare_queue(channel: Any, queue: str, keys: list[str]) -> Any:
    """Declare `queue` and its bindings (pika). A queue an earlier version declared with other
    arguments is used as it is, with a warning at every start; the broker closes the channel
    that asked, so this returns the channel to go on with."""
    try:
        channel.queue_declare(queue, durable=True, arguments=queue_arguments())
    except Exception as exc:
        if not refused_arguments(exc):
            raise
        channel = channel.connection.channel()
        channel.queue_declare(queue, durable=True, passive=True)
        warn_legacy(queue)
    for key in keys:
        channel.queue_bind(queue, EXCHANGE, routing_key=key)
    return channel


# Retry delays (seconds) for a step whose adapter failed technically; attempt n waits RETRY_DELAYS[n-1].
RETRY_DELAYS = (1, 4, 16, 60)


def delay_exchange(seconds: int) -> str:
    """Messages published here come back to `hall` with their routing key after `seconds`.

    (`hall.retry.*`: the earlier `hall.delay.*` were classic queues, whose dead-lettering is at
    most once — a broker restart while requests waited there lost them. Old `hall.delay.*` queues
    in a running broker are no longer fed and can be deleted once empty.)"""
    return f"hall.retry.{seconds}s"


def delay_queue_arguments(seconds: int) -> dict[str, Any]:
    """A quorum queue that holds each message `seconds`, then dead-letters it back to `hall`
    at least once: the move waits for the target queue's confirm, across broker restarts.
    (RabbitMQ requires reject-publish overflow for that; these queues have no length limit.)"""
    return {
        "x-queue-type": "quorum",
        "x-message-ttl": seconds * 1000,
        "x-dead-letter-exchange": EXCHANGE,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def retry_delay(attempt: int) -> int:
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]


def declare_delays(channel: Any) -> None:
    for seconds in RETRY_DELAYS:
        name = delay_exchange(seconds)
        channel.exchange_declare(name, exchange_type="fanout", durable=True)
        channel.queue_declare(name, durable=True, arguments=delay_queue_arguments(seconds))
        channel.queue_bind(name, name)


def declare_all(channel: Any, departments: list[str]) -> None:
    """Declare the whole layout (idempotent). Run by the platform services at start-up."""
    declare_exchanges(channel)
    declare_delays(channel)
    for queue, keys in bindings(departments).items():
        channel = declare_queue(channel, queue, keys)

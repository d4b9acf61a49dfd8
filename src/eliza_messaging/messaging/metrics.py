"""What the server counts, for ``/metrics`` (Prometheus text format, prometheus-client).

The instruments live in one registry of this module, made once per process: a server process
serves one app, and tests that build several apps in one process share the counts, which only
grow. Counting is a few attribute updates, cheap enough for the hot path.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_REPLY = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

CONNECTIONS = Gauge("eliza_connections", "Sockets connected to this node", registry=REGISTRY)
MESSAGES = Counter(
    "eliza_messages",
    "Messages stored: in (from clients and outside agents) and out (this node's agents' replies)",
    ["direction"],
    registry=REGISTRY,
)
MESSAGES_IN, MESSAGES_OUT = MESSAGES.labels("in"), MESSAGES.labels("out")  # looked up once, not per message
JOINS = Counter("eliza_joins", "Channel joins", registry=REGISTRY)
BROADCASTS = Counter("eliza_fanout_broadcasts", "Messages broadcast to a channel's room", registry=REGISTRY)
ACK_SECONDS = Histogram(
    "eliza_ack_seconds", "From a socket send's arrival to its acknowledgement", buckets=_LATENCY, registry=REGISTRY
)
STORE_WRITE_SECONDS = Histogram(
    "eliza_store_write_seconds", "Durably storing one message", buckets=_LATENCY, registry=REGISTRY
)
AGENT_REPLIES = Counter(
    "eliza_agent_replies", "Agent replies by outcome (replied, failed, declined)", ["outcome"], registry=REGISTRY
)
AGENT_REPLY_SECONDS = Histogram(
    "eliza_agent_reply_seconds", "From an agent opening a reply to its end", buckets=_REPLY, registry=REGISTRY
)
ERRORS = Counter("eliza_errors", "Errors answered to clients, by code", ["code"], registry=REGISTRY)
QUEUE_LAG = Gauge("eliza_queue_lag", "Stored messages not yet taken by this node's agents", registry=REGISTRY)


def watch_queue_lag(pending: Callable[[], int]) -> None:
    """Read the queue's backlog at each scrape (no bookkeeping on the hot path)."""
    QUEUE_LAG.set_function(lambda: float(pending()))

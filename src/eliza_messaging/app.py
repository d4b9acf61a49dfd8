"""The composition root: settings in, one ASGI application out.

Socket.IO and REST share one port: python-socketio's ASGI app serves ``/socket.io/`` and
hands every other request (and the lifespan events) to the FastAPI app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import engineio.payload
import prometheus_client
import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from . import __version__, collector
from .agents.character import Character, default_character, load_character
from .agents.registry import AgentRegistry
from .agents.runtime import AgentOptions
from .config import Settings
from .fanout.base import NodeRecords, NodeRelay, SessionStore
from .fanout.recovery import MemorySessions
from .fanout.socketio import (
    SocketIOFanout,
    close_client_manager,
    create_client_manager,
    log_stream,
    start_client_manager,
)
from .gateway import json_codec
from .gateway.callers import Authenticator
from .gateway.http import (
    actions,
    agent_runs,
    agents,
    channels,
    dm,
    entities,
    exports,
    health,
    jobs,
    media,
    memories,
    messages,
    search,
    servers,
    sessions,
    system,
)
from .gateway.http import metrics as metrics_route
from .gateway.http.auth import AuthMiddleware
from .gateway.http.body_limit import BodyLimitMiddleware
from .gateway.http.openapi import install_openapi
from .gateway.http.responses import install_error_handlers
from .gateway.http.spa import install as install_single_page_client
from .gateway.http.web import install as install_web_chat
from .gateway.logstream import LogStream
from .gateway.recovery import RecoveringAsyncServer
from .gateway.shutdown import GracefulStop
from .gateway.socketio import SocketGateway
from .gateway.tokens import TokenSettings, TokenVerifier
from .messaging.agent_posts import AgentPosts
from .messaging.indexer import Indexer
from .messaging.jobs import JobLimits, Jobs
from .messaging.media import MediaLibrary
from .messaging.metrics import REGISTRY, watch_queue_lag
from .messaging.rates import CallerRate
from .messaging.retention import Retention
from .messaging.service import MessagingService
from .messaging.sessions import Sessions
from .messaging.validation import Limits
from .models.embedders import create_embedder
from .protocol.types import Event
from .queue.base import MessageQueue
from .queue.memory import InProcessQueue
from .store.base import Store
from .store.media_files import MediaFiles, MediaStore
from .store.media_s3 import S3MediaStore, S3Options
from .store.sqlite import SQLiteStore

# REST callers waiting for a reply (transport http/sse) wait this much longer than an agent may take.
REPLY_WAIT_MARGIN_S = 30.0
# The shortest HS256 secret accepted (RFC 7518 3.2: a key at least as long as the hash).
MIN_JWT_SECRET_BYTES = 32


@dataclass
class Components:
    """Everything the app is made of, for tests and the command line to reach into."""

    settings: Settings
    store: Store
    sio: socketio.AsyncServer
    queue: MessageQueue
    messaging: MessagingService
    agents: AgentRegistry
    logs: LogStream
    authenticator: Authenticator
    media: MediaLibrary
    jobs: Jobs


def build_socketio_server(settings: Settings) -> RecoveringAsyncServer:
    # A polling client batches whatever it queued into one POST; python-engineio refuses more than
    # 16 packets per POST by default and the whole batch is lost. Allow a burst's worth (the server
    # answers a POST with more with a 400 that says so, before decoding it).
    post_packets = max(1, min(settings.max_polling_packets, settings.socket_burst or settings.max_polling_packets))
    engineio.payload.Payload.max_decode_packets = post_packets
    return RecoveringAsyncServer(
        async_mode="asgi",
        allow_eio3=settings.allow_eio3,
        cors_allowed_origins=settings.cors_origins,
        client_manager=create_client_manager(
            settings.redis_url,
            prefix=settings.redis_prefix,
            recovery_window_s=settings.recovery_window_s,
            recovery_log_max=settings.recovery_log_max,
        ),
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_timeout_s,
        max_http_buffer_size=settings.max_frame_bytes,
        json=json_codec,
        serializer=json_codec.JsonPacket,
        http_compression=False,
        compression_threshold=10**9,
        logger=False,
        engineio_logger=False,
        socket_rate=settings.socket_rate,
        socket_burst=settings.socket_burst,
        max_post_packets=post_packets,
        max_buffer_bytes=settings.socket_max_buffer,
        write_timeout_s=settings.socket_write_timeout_s,
        max_connections_per_ip=settings.max_connections_per_ip,
    )


def build_components(settings: Settings) -> Components:
    store = build_store(settings)
    sio = build_socketio_server(settings)
    queue = build_queue(settings)
    limits = Limits(max_text_chars=settings.max_message_chars)
    node_records = build_node_records(settings)
    sio.sessions = build_sessions(settings, sio, node_records)
    messaging = MessagingService(
        store,
        SocketIOFanout(sio, volatile=frozenset({Event.USER_TYPING})),
        queue,
        limits,
        relay=build_relay(settings),
        channel_relay=build_relay(settings, "channels"),
        outbox_timing=(settings.outbox_lease_s, settings.outbox_sweep_s),
        isolation=settings.data_isolation,
        live_hold=sio,
        replay_max=settings.replay_max,
        node_records=node_records,
        sessions=sio.sessions,
        indexer=build_indexer(settings, store),
        runs_keep=settings.agent_runs_keep,
    )
    logs = LogStream(messaging.fanout)
    authenticator = build_authenticator(settings)
    SocketGateway(sio, messaging, logs=logs, authenticator=authenticator)
    agents = AgentRegistry(
        load_characters(settings.characters),
        messaging,
        default_provider=settings.model_provider,
        options=AgentOptions(
            history_limit=settings.agent_history_limit,
            timeout_s=settings.agent_timeout_s,
            max_agent_chain=settings.agent_max_chain,
            max_queued=settings.agent_lane_max,
            recall=settings.agent_recall,
            recall_tokens=settings.agent_recall_tokens,
        ),
    )
    library = MediaLibrary(
        build_media_store(settings),
        messaging.access,
        messaging.identity,
        max_bytes=settings.upload_max_bytes,
        rate=CallerRate("uploads", settings.upload_rate, settings.upload_burst),
    )
    job_limits = JobLimits(
        max_active_per_user=settings.job_max_active,
        max_stored=settings.job_max_stored,
        retention_ms=round(settings.job_retention_s * 1000),
    )
    return Components(
        settings, store, sio, queue, messaging, agents, logs, authenticator, library, Jobs(messaging, limits=job_limits)
    )


def build_media_store(settings: Settings) -> MediaStore:
    """Uploads under the data dir, or in an S3-compatible bucket when ELIZA_MEDIA_S3_BUCKET is set."""
    files = MediaFiles(settings.uploads_dir)
    if not settings.media_s3_bucket:
        return files
    access, secret = settings.media_s3_access_key, settings.media_s3_secret_key
    options = S3Options(
        bucket=settings.media_s3_bucket,
        endpoint=settings.media_s3_endpoint,
        region=settings.media_s3_region,
        access_key=access.get_secret_value() if access else None,
        secret_key=secret.get_secret_value() if secret else None,
        prefix=settings.media_s3_prefix,
    )
    return S3MediaStore(files, options)


def build_authenticator(settings: Settings) -> Authenticator:
    """Sockets and REST calls learn who they are from the same credentials (SECURITY.md)."""
    tokens = TokenSettings(
        secret=settings.jwt_secret,
        jwks_url=settings.jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        jwks_ttl_s=settings.jwks_cache_s,
    )
    if tokens.secret is not None and len(tokens.secret.encode()) < MIN_JWT_SECRET_BYTES:
        raise ValueError(
            f"ELIZA_JWT_SECRET is {len(tokens.secret.encode())} bytes; HS256 needs at least {MIN_JWT_SECRET_BYTES}"
            " (RFC 7518 3.2). Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if settings.require_auth and not (tokens.enabled or settings.server_auth_token):
        raise ValueError(
            "ELIZA_REQUIRE_AUTH=true needs a way to prove who you are: set ELIZA_JWT_SECRET or ELIZA_JWKS_URL"
            " (signed tokens), or ELIZA_SERVER_AUTH_TOKEN."
        )
    return Authenticator(
        api_key=settings.server_api_key,
        server_token=settings.server_auth_token,
        verifier=TokenVerifier(tokens) if tokens.enabled else None,
        require_auth=settings.require_auth,
    )


def build_store(settings: Settings) -> Store:
    """PostgreSQL when ``POSTGRES_URL`` is set, else the embedded SQLite file in the data dir."""
    if settings.postgres_url:
        from .store.postgres import PostgresStore  # asyncpg is only loaded when it is used

        return PostgresStore(settings.postgres_url)
    return SQLiteStore(settings.sqlite_path)


def build_indexer(settings: Settings, store: Store) -> Indexer | None:
    """With an embedder (``ELIZA_EMBEDDINGS``, ``ELIZA_EMBEDDINGS_URL``), messages are embedded for semantic search."""
    embedder = create_embedder(
        settings.embeddings,
        url=settings.embeddings_url,
        model=settings.embeddings_model,
        api_key=settings.embeddings_api_key,
    )
    if embedder is None:
        return None
    return Indexer(store, embedder, queue_max=settings.embeddings_queue_max)


def build_queue(settings: Settings) -> MessageQueue:
    """Redis Streams consumer groups when ``REDIS_URL`` is set (several nodes), else in-process."""
    if settings.redis_url:
        from .queue.redis import RedisStreamQueue  # redis is only loaded when it is used

        return RedisStreamQueue(
            settings.redis_url, stream=f"{settings.redis_prefix}:messages", claim_idle_s=settings.queue_claim_idle_s
        )
    queue = InProcessQueue(max_pending=settings.agent_queue_max)
    watch_queue_lag(queue.backlog)
    return queue


def build_relay(settings: Settings, name: str = "replies") -> NodeRelay | None:
    """With ``REDIS_URL``, reply steps (``replies``) and channel changes (``channels``) reach every node;
    without, they stay on this one."""
    if not settings.redis_url:
        return None
    from .fanout.redis_relay import RedisRelay, pubsub_channel

    return RedisRelay(settings.redis_url, pubsub_channel(settings.redis_url, settings.redis_prefix, name))


def build_node_records(settings: Settings) -> NodeRecords | None:
    """With ``REDIS_URL``, what this node holds is kept in Redis for another to clean up if it dies."""
    if not settings.redis_url:
        return None
    from .fanout.node_records import RedisNodeRecords

    return RedisNodeRecords(settings.redis_url, settings.redis_prefix)


def build_sessions(
    settings: Settings, sio: RecoveringAsyncServer, node_records: NodeRecords | None
) -> SessionStore | None:
    """Connection-state recovery's sessions (None: ``ELIZA_RECOVERY_WINDOW_S=0``): this node's memory, or
    Redis beside the node records, whose presence record keeps each socket's session as it changes."""
    if settings.recovery_window_s <= 0:
        return None
    if not settings.redis_url or node_records is None:
        packet_log = sio.manager.packet_log
        assert packet_log is not None
        return MemorySessions(packet_log)
    from .fanout.redis_sessions import RedisSessions

    return RedisSessions(
        settings.redis_url,
        settings.redis_prefix,
        node_id=node_records.node_id,
        stream=log_stream(settings.redis_prefix),
        window_s=settings.recovery_window_s,
        log_max=settings.recovery_log_max,
    )


def build_graceful_stop(parts: Components) -> GracefulStop:
    """What a SIGTERM waits for (sends inside the gate, replies the agents have in hand) and whom it tells."""
    queue = parts.queue

    def replies_busy() -> bool:
        return parts.agents.busy or (isinstance(queue, InProcessQueue) and queue.busy)

    return GracefulStop(
        parts.sio,
        parts.messaging.gate,
        replies_busy=replies_busy,
        stop_replies=parts.agents.close,
        grace_s=parts.settings.shutdown_grace_s,
    )


def load_characters(paths: list[str]) -> list[Character]:
    """The characters named in settings, or the default "Eliza" when none are."""
    return [load_character(p) for p in paths] if paths else [default_character()]


def start_metrics_port(settings: Settings) -> Any:
    """With ``ELIZA_METRICS_PORT``, /metrics is served on its own port (a thread of prometheus-client)."""
    if settings.metrics_port is None:
        return None
    server, _ = prometheus_client.start_http_server(settings.metrics_port, addr=settings.host, registry=REGISTRY)
    return server


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or Settings()
    parts = build_components(settings)

    retention = (
        Retention(parts.messaging, settings.retention_days, interval_s=settings.retention_interval_s)
        if settings.retention_days
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await parts.store.open()
        await start_client_manager(parts.sio)
        await parts.messaging.start()
        await parts.media.start()
        await parts.agents.start()
        await parts.messaging.outbox.start()  # once the agents listen: what a crash left unpublished
        await parts.jobs.start()  # jobs a stop left in progress: finished from the store, or waited for again
        if retention is not None:
            retention.start()
        parts.logs.attach(asyncio.get_running_loop(), logging.getLogger("eliza_messaging"))
        metrics_server = start_metrics_port(settings)
        collector.settle()  # start-up's objects out of the collector's sight (collector.py)
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            parts.logs.detach(logging.getLogger("eliza_messaging"))
            if retention is not None:
                await retention.close()
            await parts.jobs.close()  # stops waiting; jobs in progress stay stored and are resumed on start
            await parts.messaging.outbox.close()  # no sweep into a closing queue
            await parts.queue.close()  # no new work first; the Redis queue lets replies in flight finish
            await parts.agents.close()
            await parts.messaging.close()
            await parts.media.close()
            await close_client_manager(parts.sio)
            close_sessions = getattr(parts.sio.sessions, "close", None)
            if close_sessions is not None:
                await close_sessions()
            await parts.store.close()

    api = FastAPI(title="eliza-messaging", version=__version__, lifespan=lifespan)
    api.state.messaging = parts.messaging
    api.state.components = parts
    api.state.agents = parts.agents
    api.state.media = parts.media
    api.state.jobs = parts.jobs
    install_error_handlers(api)
    api.include_router(health.router)
    if settings.metrics_port is None:
        api.include_router(metrics_route.router)
    api.include_router(agents.router)
    api.include_router(agent_runs.router)
    api.include_router(system.router)
    api.state.started_monotonic = time.monotonic()
    api.state.environment = settings.environment
    api.state.public_env = system.public_environment(settings.public_env)
    api.state.sessions = Sessions(parts.messaging)
    api.state.agent_posts = AgentPosts(parts.messaging)
    api.state.reply_timeout_s = settings.reply_wait_s or settings.agent_timeout_s + REPLY_WAIT_MARGIN_S
    for router in (messages, exports, entities, servers, channels, dm, actions, sessions, jobs, search):
        api.include_router(router.router, prefix="/api/messaging")
    api.include_router(memories.router)
    api.include_router(media.router)
    api.add_middleware(AuthMiddleware, authenticator=parts.authenticator)
    upload_cap = settings.upload_max_bytes + media.ENVELOPE_BYTES
    api.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_frame_bytes,
        streamed=[(pattern, upload_cap) for pattern in media.UPLOAD_PATHS],
    )
    # REST answers browsers from the same origins as Socket.IO (CORS_ORIGIN), preflights included.
    api.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if settings.cors_origins == "*" else list(settings.cors_origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["content-type", "x-api-key", "authorization"],
    )
    install_openapi(api)
    if settings.ui_enable and settings.ui_dir is not None:
        install_single_page_client(api, settings.ui_dir)  # last: every other route comes first
    elif settings.ui_enable:
        install_web_chat(api)
    app = socketio.ASGIApp(parts.sio, other_asgi_app=api, socketio_path="socket.io")
    app.components = parts
    return app

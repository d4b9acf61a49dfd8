"""Settings: environment variables with the ElizaOS names, overridable by command-line flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    host: str = Field("0.0.0.0", validation_alias=AliasChoices("SERVER_HOST", "host"))
    port: int = Field(3000, validation_alias=AliasChoices("SERVER_PORT", "port"))
    cors_origin: str = Field("*", validation_alias=AliasChoices("CORS_ORIGIN", "cors_origin"))
    data_dir: Path = Field(Path(".eliza-data"), validation_alias=AliasChoices("ELIZA_DATA_DIR", "data_dir"))
    postgres_url: str | None = Field(
        None, validation_alias=AliasChoices("POSTGRES_URL", "postgres_url")
    )  # when set, the messaging memory lives in this PostgreSQL database instead of SQLite in data_dir
    redis_url: str | None = Field(
        None, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )  # when set, fanout, agent queue and reply watchers span every node on this Redis (several nodes)
    redis_prefix: str = Field(
        "eliza", min_length=1, validation_alias=AliasChoices("ELIZA_REDIS_PREFIX", "redis_prefix")
    )  # names this deployment's Redis keys and channels, so several deployments can share one Redis
    log_level: str = Field("info", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    server_auth_token: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_SERVER_AUTH_TOKEN", "server_auth_token")
    )
    server_api_key: str | None = Field(None, validation_alias=AliasChoices("SERVER_API_KEY", "server_api_key"))
    # identity and access (SECURITY.md): signed tokens, required auth, ElizaOS's data isolation
    jwt_secret: str | None = Field(None, validation_alias=AliasChoices("ELIZA_JWT_SECRET", "jwt_secret"))
    jwks_url: str | None = Field(None, validation_alias=AliasChoices("ELIZA_JWKS_URL", "jwks_url"))
    jwks_cache_s: float = Field(300.0, gt=0, validation_alias=AliasChoices("ELIZA_JWKS_CACHE_SECONDS", "jwks_cache_s"))
    jwt_issuer: str | None = Field(None, validation_alias=AliasChoices("ELIZA_JWT_ISSUER", "jwt_issuer"))
    jwt_audience: str | None = Field(None, validation_alias=AliasChoices("ELIZA_JWT_AUDIENCE", "jwt_audience"))
    require_auth: bool = Field(False, validation_alias=AliasChoices("ELIZA_REQUIRE_AUTH", "require_auth"))
    data_isolation: bool = Field(False, validation_alias=AliasChoices("ENABLE_DATA_ISOLATION", "data_isolation"))
    allow_eio3: bool = Field(True, validation_alias=AliasChoices("ELIZA_ALLOW_EIO3", "allow_eio3"))
    max_message_chars: int = Field(
        100_000, validation_alias=AliasChoices("ELIZA_MAX_MESSAGE_CHARS", "max_message_chars")
    )
    max_frame_bytes: int = Field(1_000_000, validation_alias=AliasChoices("ELIZA_MAX_FRAME_BYTES", "max_frame_bytes"))
    max_polling_packets: int = Field(
        10_000, validation_alias=AliasChoices("ELIZA_MAX_POLLING_PACKETS", "max_polling_packets")
    )
    socket_rate: float = Field(100.0, validation_alias=AliasChoices("ELIZA_SOCKET_RATE", "socket_rate"))
    socket_burst: int = Field(500, validation_alias=AliasChoices("ELIZA_SOCKET_BURST", "socket_burst"))
    socket_max_buffer: int = Field(
        4_000_000, ge=0, validation_alias=AliasChoices("ELIZA_SOCKET_MAX_BUFFER", "socket_max_buffer")
    )  # bytes queued for one socket that does not read; past it the socket is disconnected (0: unbounded)
    socket_write_timeout_s: float = Field(
        30.0, ge=0, validation_alias=AliasChoices("ELIZA_SOCKET_WRITE_TIMEOUT", "socket_write_timeout_s")
    )  # a websocket write waiting this long for a reader that stopped reading ends the connection
    max_connections_per_ip: int = Field(
        256, ge=0, validation_alias=AliasChoices("ELIZA_MAX_CONNECTIONS_PER_IP", "max_connections_per_ip")
    )  # open Socket.IO connections from one client address (0: no cap)
    upload_max_bytes: int = Field(
        50 * 1024 * 1024, gt=0, validation_alias=AliasChoices("ELIZA_UPLOAD_MAX_BYTES", "upload_max_bytes")
    )  # the largest file one media upload may hold (ElizaOS: 50 MiB)
    upload_rate: float = Field(
        30.0, ge=0, validation_alias=AliasChoices("ELIZA_UPLOAD_RATE", "upload_rate")
    )  # media uploads a minute per caller (entity, else address), after a burst of ELIZA_UPLOAD_BURST (0: no limit)
    upload_burst: int = Field(10, gt=0, validation_alias=AliasChoices("ELIZA_UPLOAD_BURST", "upload_burst"))
    # media in an S3-compatible bucket instead of the data dir (store/media_s3.py; pip install 'eliza-messaging[s3]')
    media_s3_bucket: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_MEDIA_S3_BUCKET", "media_s3_bucket")
    )  # set: uploads are kept in this bucket; unset (the default): under the data dir
    media_s3_endpoint: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_MEDIA_S3_ENDPOINT", "media_s3_endpoint")
    )  # MinIO, R2, ...: its URL (path-style addressing); unset: AWS S3
    media_s3_region: str | None = Field(None, validation_alias=AliasChoices("ELIZA_MEDIA_S3_REGION", "media_s3_region"))
    media_s3_prefix: str = Field("", validation_alias=AliasChoices("ELIZA_MEDIA_S3_PREFIX", "media_s3_prefix"))
    media_s3_access_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ELIZA_MEDIA_S3_ACCESS_KEY", "media_s3_access_key")
    )  # unset: AWS's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles)
    media_s3_secret_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ELIZA_MEDIA_S3_SECRET_KEY", "media_s3_secret_key")
    )
    job_max_active: int = Field(
        10, gt=0, validation_alias=AliasChoices("ELIZA_JOB_MAX_ACTIVE", "job_max_active")
    )  # Jobs API: jobs pending or processing at once per user
    job_max_stored: int = Field(
        10_000, gt=0, validation_alias=AliasChoices("ELIZA_JOB_MAX_STORED", "job_max_stored")
    )  # jobs kept in all; past it the oldest finished are removed (ElizaOS: 10000 in memory)
    job_retention_s: float = Field(
        86_400.0, gt=0, validation_alias=AliasChoices("ELIZA_JOB_RETENTION", "job_retention_s")
    )  # seconds a finished job stays readable
    ping_interval_s: float = Field(25.0, validation_alias=AliasChoices("ELIZA_PING_INTERVAL", "ping_interval_s"))
    ping_timeout_s: float = Field(20.0, validation_alias=AliasChoices("ELIZA_PING_TIMEOUT", "ping_timeout_s"))
    ui_enable: bool = Field(True, validation_alias=AliasChoices("ELIZA_UI_ENABLE", "ui_enable"))
    ui_dir: Path | None = Field(
        None, validation_alias=AliasChoices("ELIZA_UI_DIR", "ui_dir")
    )  # serve this built single-page client (e.g. the ElizaOS client's dist) at / instead of the web chat
    public_env: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ELIZA_PUBLIC_ENV", "public_env")
    )  # environment variables GET /api/system/env/local shows (comma-separated names; none by default)
    environment: str = Field(
        "production", validation_alias=AliasChoices("NODE_ENV", "environment")
    )  # what GET /api/system/version calls this deployment, as ElizaOS reads NODE_ENV
    metrics_port: int | None = Field(
        None, ge=1, le=65535, validation_alias=AliasChoices("ELIZA_METRICS_PORT", "metrics_port")
    )  # serve /metrics on this port (on the server's host) instead of the main one

    characters: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=AliasChoices("ELIZA_CHARACTERS", "characters")
    )
    model_provider: str = Field("eliza", validation_alias=AliasChoices("ELIZA_MODEL_PROVIDER", "model_provider"))
    agent_history_limit: int = Field(32, validation_alias=AliasChoices("ELIZA_AGENT_HISTORY", "agent_history_limit"))
    agent_timeout_s: float = Field(60.0, validation_alias=AliasChoices("ELIZA_AGENT_TIMEOUT", "agent_timeout_s"))
    agent_max_chain: int = Field(2, validation_alias=AliasChoices("ELIZA_AGENT_MAX_CHAIN", "agent_max_chain"))
    agent_lane_max: int = Field(
        64, gt=0, validation_alias=AliasChoices("ELIZA_AGENT_LANE_MAX", "agent_lane_max")
    )  # messages waiting for one agent in one channel; beyond it the oldest is dropped (with its outcome)
    agent_queue_max: int = Field(
        10_000, gt=0, validation_alias=AliasChoices("ELIZA_AGENT_QUEUE_MAX", "agent_queue_max")
    )  # in-process queue: stored messages not yet taken by an agent; senders wait when it is full
    agent_recall: bool = Field(
        True, validation_alias=AliasChoices("ELIZA_AGENT_RECALL", "agent_recall")
    )  # agents also read the older messages most related to the one they answer (keyword, + meaning with an embedder)
    agent_recall_tokens: int = Field(
        512, ge=0, validation_alias=AliasChoices("ELIZA_AGENT_RECALL_TOKENS", "agent_recall_tokens")
    )  # at most about this many tokens (4 characters each) of recalled messages in an agent's prompt
    embeddings: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_EMBEDDINGS", "embeddings")
    )  # none, openai or local (the offline model of the [semantic] extra); unset: openai when the URL is set
    embeddings_url: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_EMBEDDINGS_URL", "embeddings_url")
    )  # an OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1 (its /embeddings is called)
    embeddings_model: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_EMBEDDINGS_MODEL", "embeddings_model")
    )
    embeddings_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ELIZA_EMBEDDINGS_API_KEY", "embeddings_api_key")
    )
    embeddings_queue_max: int = Field(
        4096, gt=0, validation_alias=AliasChoices("ELIZA_EMBEDDINGS_QUEUE_MAX", "embeddings_queue_max")
    )  # messages waiting to be embedded; past it they are found by the next backfill instead
    agent_runs_keep: int = Field(
        1000, ge=1, validation_alias=AliasChoices("ELIZA_AGENT_RUNS_KEEP", "agent_runs_keep")
    )  # runs (an agent's processing of one message, with its model calls) kept per agent, newest first
    reply_wait_s: float | None = Field(
        None, gt=0, validation_alias=AliasChoices("ELIZA_REPLY_WAIT_TIMEOUT", "reply_wait_s")
    )  # REST transports http/sse: how long to wait for an agent's reply (default: agent timeout + 30 s)

    outbox_lease_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("ELIZA_OUTBOX_LEASE", "outbox_lease_s")
    )  # how long a node holds a stored message it is publishing before another node may publish it
    outbox_sweep_s: float = Field(
        5.0, ge=0, validation_alias=AliasChoices("ELIZA_OUTBOX_SWEEP", "outbox_sweep_s")
    )  # how often stored messages left unpublished are published (0: only on start)
    queue_claim_idle_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("ELIZA_QUEUE_CLAIM_IDLE", "queue_claim_idle_s")
    )  # several nodes: seconds a dead node's untouched queue entries wait before another node takes them
    replay_max: int = Field(
        500, ge=0, validation_alias=AliasChoices("ELIZA_REPLAY_MAX", "replay_max")
    )  # a rejoin with lastSeq gets at most this many missed messages (the newest); 0: none, only the count
    retention_days: float = Field(
        0.0, ge=0, validation_alias=AliasChoices("ELIZA_RETENTION_DAYS", "retention_days")
    )  # messages older than this many days are removed by a background task (0, the default: kept forever)
    retention_interval_s: float = Field(
        3600.0, gt=0, validation_alias=AliasChoices("ELIZA_RETENTION_INTERVAL", "retention_interval_s")
    )  # with retention on: seconds between sweeps (the first runs at start)
    recovery_window_s: float = Field(
        120.0, ge=0, validation_alias=AliasChoices("ELIZA_RECOVERY_WINDOW_S", "recovery_window_s")
    )  # Socket.IO connection-state recovery: how long a dropped socket's session and missed packets are kept
    recovery_log_max: int = Field(
        10_000, gt=0, validation_alias=AliasChoices("ELIZA_RECOVERY_LOG_MAX", "recovery_log_max")
    )  # at most this many room broadcasts are kept for it (per node, or in Redis for all); 0 s window: off
    shutdown_grace_s: float = Field(
        10.0, ge=0, validation_alias=AliasChoices("ELIZA_SHUTDOWN_GRACE_S", "shutdown_grace_s")
    )  # on SIGTERM/SIGINT: how long sends and agent replies in flight may take to finish

    @model_validator(mode="after")
    def _s3_keys_together(self) -> Settings:
        if (self.media_s3_access_key is None) != (self.media_s3_secret_key is None):
            raise ValueError(
                "Set both ELIZA_MEDIA_S3_ACCESS_KEY and ELIZA_MEDIA_S3_SECRET_KEY, or neither"
                " (then AWS's own AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles or roles are used)."
            )
        return self

    @field_validator("characters", "public_env", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        """``ELIZA_CHARACTERS`` (character files) and ``ELIZA_PUBLIC_ENV`` (names) are comma-separated lists."""
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "messaging.sqlite3"

    @property
    def cors_origins(self) -> str | list[str]:
        """``*`` or the comma-separated list of allowed origins."""
        if self.cors_origin.strip() in ("", "*"):
            return "*"
        return [o.strip() for o in self.cors_origin.split(",") if o.strip()]

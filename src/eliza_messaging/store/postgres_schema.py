"""PostgreSQL schema migrations, applied in order and recorded in ``schema_migrations``.

The same tables, keys and cascades as ``sqlite_schema`` (so both backends answer alike), in
PostgreSQL's types: epoch-millisecond times as BIGINT, JSON as JSONB, a BIGSERIAL ``seq`` that
orders messages created in the same millisecond, identifiers in the "C" collation so they sort
byte by byte as SQLite sorts them. Each entry runs in its own transaction.
Append a new entry to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[int, str], ...]] = (
    (
        1,
        """
        CREATE TABLE message_servers (
            id TEXT COLLATE "C" PRIMARY KEY,
            name TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source_id TEXT,
            metadata JSONB NOT NULL DEFAULT '{}',
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE TABLE channels (
            id TEXT COLLATE "C" PRIMARY KEY,
            message_server_id TEXT COLLATE "C" NOT NULL REFERENCES message_servers(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            source_type TEXT,
            source_id TEXT,
            topic TEXT,
            metadata JSONB NOT NULL DEFAULT '{}',
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX channels_server ON channels(message_server_id);
        CREATE TABLE channel_participants (
            channel_id TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            entity_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (channel_id, entity_id)
        );
        CREATE TABLE message_server_agents (
            message_server_id TEXT COLLATE "C" NOT NULL REFERENCES message_servers(id) ON DELETE CASCADE,
            agent_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (message_server_id, agent_id)
        );
        CREATE TABLE central_messages (
            seq BIGSERIAL PRIMARY KEY,
            id TEXT COLLATE "C" NOT NULL UNIQUE,
            channel_id TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            author_id TEXT COLLATE "C" NOT NULL,
            author_name TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL,
            raw_message JSONB NOT NULL DEFAULT '{}',
            in_reply_to_root_message_id TEXT COLLATE "C",
            source_type TEXT NOT NULL,
            source_id TEXT,
            metadata JSONB NOT NULL DEFAULT '{}',
            client_message_id TEXT COLLATE "C",
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX central_messages_channel_time ON central_messages(channel_id, created_at, seq);
        CREATE UNIQUE INDEX central_messages_client_id
            ON central_messages(channel_id, author_id, client_message_id)
            WHERE client_message_id IS NOT NULL;
        """,
    ),
    (
        2,
        """
        CREATE TABLE sessions (
            id TEXT COLLATE "C" PRIMARY KEY,
            agent_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            channel_id TEXT COLLATE "C" NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            metadata JSONB NOT NULL DEFAULT '{}',
            timeout_minutes DOUBLE PRECISION NOT NULL,
            auto_renew BOOLEAN NOT NULL,
            max_duration_minutes DOUBLE PRECISION NOT NULL,
            warning_threshold_minutes DOUBLE PRECISION NOT NULL,
            created_at BIGINT NOT NULL,
            last_activity BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            renewal_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX sessions_expires ON sessions(expires_at);
        CREATE INDEX sessions_channel ON sessions(channel_id);
        """,
    ),
    (
        3,
        # The outbox (see sqlite_schema 3). ``published_at`` is added with DEFAULT 0, which marks
        # every existing row published without rewriting the table, then the default is dropped so
        # new rows start unpublished (NULL).
        """
        ALTER TABLE central_messages ADD COLUMN published_at BIGINT DEFAULT 0;
        ALTER TABLE central_messages ALTER COLUMN published_at DROP DEFAULT;
        ALTER TABLE central_messages ADD COLUMN publish_claimed_until BIGINT;
        CREATE INDEX central_messages_unpublished ON central_messages(seq) WHERE published_at IS NULL;
        """,
    ),
    (
        4,
        # Channel offsets (see sqlite_schema 4): every append bumps its channel's row of
        # ``channel_offsets`` in its own statement, so concurrent writers on any node queue on that
        # row and each gets the next number; a failed append rolls its bump back with it.
        """
        ALTER TABLE central_messages ADD COLUMN channel_seq BIGINT;
        UPDATE central_messages AS m SET channel_seq = numbered.n
            FROM (
                SELECT seq AS s, row_number() OVER (PARTITION BY channel_id ORDER BY created_at, id) AS n
                FROM central_messages
            ) AS numbered
            WHERE numbered.s = m.seq;
        ALTER TABLE central_messages ALTER COLUMN channel_seq SET NOT NULL;
        CREATE TABLE channel_offsets (
            channel_id TEXT COLLATE "C" PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
            last_seq BIGINT NOT NULL
        );
        INSERT INTO channel_offsets (channel_id, last_seq)
            SELECT channel_id, MAX(channel_seq) FROM central_messages GROUP BY channel_id;
        CREATE UNIQUE INDEX central_messages_channel_seq ON central_messages(channel_id, channel_seq);
        """,
    ),
    (
        5,
        # The user's control over the memory (see sqlite_schema 5).
        """
        CREATE INDEX central_messages_author ON central_messages(author_id, channel_id);
        CREATE INDEX central_messages_created ON central_messages(created_at, seq);
        CREATE INDEX channel_participants_entity ON channel_participants(entity_id);
        """,
    ),
    (
        6,
        # The Jobs API (see sqlite_schema 6).
        """
        CREATE TABLE jobs (
            id TEXT COLLATE "C" PRIMARY KEY,
            agent_id TEXT COLLATE "C" NOT NULL,
            user_id TEXT COLLATE "C" NOT NULL,
            channel_id TEXT COLLATE "C" NOT NULL,
            content TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            user_message_id TEXT COLLATE "C",
            result JSONB,
            error TEXT,
            finished_at BIGINT,
            metadata JSONB NOT NULL DEFAULT '{}'
        );
        CREATE INDEX jobs_created ON jobs(created_at);
        CREATE INDEX jobs_user_status ON jobs(user_id, status);
        CREATE INDEX jobs_status ON jobs(status);
        """,
    ),
    (
        7,
        # Agent runs (see sqlite_schema 7).
        """
        CREATE TABLE agent_runs (
            id TEXT COLLATE "C" PRIMARY KEY,
            agent_id TEXT COLLATE "C" NOT NULL,
            message_id TEXT COLLATE "C" NOT NULL,
            channel_id TEXT COLLATE "C" NOT NULL,
            entity_id TEXT COLLATE "C" NOT NULL,
            status TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            ended_at BIGINT,
            outcome TEXT,
            error TEXT,
            model_calls INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            calls JSONB NOT NULL DEFAULT '[]'
        );
        CREATE INDEX agent_runs_agent_started ON agent_runs(agent_id, started_at, id);
        """,
    ),
    (
        8,
        # Search (see sqlite_schema 8): a tsvector generated from the text, so every insert, edit and
        # delete keeps it in step inside its own statement, and existing rows get theirs as the column
        # is added; the GIN index answers word, phrase and prefix queries. The 'simple' configuration
        # folds case in every script and drops no stop words (messages are in any language). The
        # vectors (pgvector) live in ``message_vectors``, made when an embedder is configured
        # (store/postgres_search.py), since the extension may not be installed where none is used.
        """
        ALTER TABLE central_messages ADD COLUMN search_tsv tsvector
            GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content)) STORED;
        CREATE INDEX central_messages_search ON central_messages USING gin (search_tsv);
        """,
    ),
)

"""SQLite schema migrations, applied in order and recorded in ``schema_migrations``.

Append a new entry to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[int, str], ...]] = (
    (
        1,
        """
        CREATE TABLE message_servers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            source_type TEXT NOT NULL,
            source_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE channels (
            id TEXT PRIMARY KEY,
            message_server_id TEXT NOT NULL REFERENCES message_servers(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            source_type TEXT,
            source_id TEXT,
            topic TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX channels_server ON channels(message_server_id);
        CREATE TABLE channel_participants (
            channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            entity_id TEXT NOT NULL,
            PRIMARY KEY (channel_id, entity_id)
        );
        CREATE TABLE message_server_agents (
            message_server_id TEXT NOT NULL REFERENCES message_servers(id) ON DELETE CASCADE,
            agent_id TEXT NOT NULL,
            PRIMARY KEY (message_server_id, agent_id)
        );
        CREATE TABLE central_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            author_id TEXT NOT NULL,
            author_name TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL,
            raw_message TEXT NOT NULL DEFAULT '{}',
            in_reply_to_root_message_id TEXT,
            source_type TEXT NOT NULL,
            source_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            client_message_id TEXT,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
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
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
            metadata TEXT NOT NULL DEFAULT '{}',
            timeout_minutes REAL NOT NULL,
            auto_renew INTEGER NOT NULL,
            max_duration_minutes REAL NOT NULL,
            warning_threshold_minutes REAL NOT NULL,
            created_at INTEGER NOT NULL,
            last_activity INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            renewal_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX sessions_expires ON sessions(expires_at);
        CREATE INDEX sessions_channel ON sessions(channel_id);
        """,
    ),
    (
        3,
        # The outbox: a message is stored with ``published_at`` NULL and gets it once its room
        # broadcast and agent hand-off succeeded; ``publish_claimed_until`` is the lease of whoever is
        # publishing it (NULL: the live send, for the lease after ``created_at``; 0: free to take).
        # Rows stored before the outbox existed were published then (0: "before the outbox").
        """
        ALTER TABLE central_messages ADD COLUMN published_at INTEGER;
        ALTER TABLE central_messages ADD COLUMN publish_claimed_until INTEGER;
        UPDATE central_messages SET published_at = 0;
        CREATE INDEX central_messages_unpublished ON central_messages(seq) WHERE published_at IS NULL;
        """,
    ),
    (
        4,
        # Channel offsets (issue 12): ``channel_seq`` numbers each channel's messages 1, 2, 3, ...;
        # ``channel_offsets`` holds the last one given, bumped in the transaction of each insert.
        # Existing messages are numbered per channel in (created_at, id) order.
        """
        ALTER TABLE central_messages ADD COLUMN channel_seq INTEGER;
        UPDATE central_messages SET channel_seq = numbered.n
            FROM (
                SELECT seq AS s, row_number() OVER (PARTITION BY channel_id ORDER BY created_at, id) AS n
                FROM central_messages
            ) AS numbered
            WHERE numbered.s = central_messages.seq;
        CREATE TABLE channel_offsets (
            channel_id TEXT PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
            last_seq INTEGER NOT NULL
        );
        INSERT INTO channel_offsets (channel_id, last_seq)
            SELECT channel_id, MAX(channel_seq) FROM central_messages GROUP BY channel_id;
        CREATE UNIQUE INDEX central_messages_channel_seq ON central_messages(channel_id, channel_seq);
        """,
    ),
    (
        5,
        # The user's control over the memory (issue 13): an entity's messages (forget, an agent's
        # memories), the messages older than a time (retention), an entity's channels.
        """
        CREATE INDEX central_messages_author ON central_messages(author_id, channel_id);
        CREATE INDEX central_messages_created ON central_messages(created_at, seq);
        CREATE INDEX channel_participants_entity ON channel_participants(entity_id);
        """,
    ),
    (
        6,
        # The Jobs API: one-off prompts to an agent, kept so they survive a restart (ElizaOS keeps them
        # in memory). ``result`` is NULL until the agent answered.
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            content TEXT NOT NULL,
            status TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            user_message_id TEXT,
            result TEXT,
            error TEXT,
            finished_at INTEGER,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX jobs_created ON jobs(created_at);
        CREATE INDEX jobs_user_status ON jobs(user_id, status);
        CREATE INDEX jobs_status ON jobs(status);
        """,
    ),
    (
        7,
        # Agent runs (issue 15): one row per message an agent processed, its model calls (sizes and
        # timing, never text) as JSON; the newest runs of each agent are kept (ELIZA_AGENT_RUNS_KEEP).
        """
        CREATE TABLE agent_runs (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            entity_id TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            outcome TEXT,
            error TEXT,
            model_calls INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            calls TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX agent_runs_agent_started ON agent_runs(agent_id, started_at, id);
        """,
    ),
    (
        8,
        # Search (issue 13). ``messages_fts`` is an FTS5 index
        # over the messages' text (external content: the text itself stays in ``central_messages``);
        # ``unicode61 remove_diacritics 2`` folds case and accents of every script ("café" matches
        # "cafe"). New rows are indexed in batches, not row by row: ``search_progress.indexed_seq`` is the
        # last row indexed, the store indexes what is past it shortly after appends and always before a
        # search (store/sqlite_search.py ``catch_up``), so a search sees every message acknowledged
        # before it, at a small part of a per-row trigger's cost (docs/performance.md). Edits and deletes
        # of indexed rows are kept in step by triggers in the writing transaction; existing rows are
        # indexed by the rebuild. ``message_vectors`` holds each message's embedding (float32, written
        # by messaging/indexer.py off the send path) under the model that made it; it goes with its
        # message (the cascade) and when the text changes (the trigger).
        """
        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='central_messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
        CREATE TABLE search_progress (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_seq INTEGER NOT NULL);
        INSERT INTO search_progress (id, indexed_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM central_messages;
        CREATE TRIGGER central_messages_fts_delete AFTER DELETE ON central_messages
            WHEN old.seq <= (SELECT indexed_seq FROM search_progress) BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
        END;
        CREATE TRIGGER central_messages_fts_update AFTER UPDATE OF content ON central_messages
            WHEN old.seq <= (SELECT indexed_seq FROM search_progress) BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
        END;
        CREATE TABLE message_vectors (
            message_id TEXT PRIMARY KEY REFERENCES central_messages(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vector BLOB NOT NULL
        );
        CREATE TRIGGER central_messages_vector_stale AFTER UPDATE OF content ON central_messages
            WHEN new.content IS NOT old.content BEGIN
            DELETE FROM message_vectors WHERE message_id = new.id;
        END;
        """,
    ),
)

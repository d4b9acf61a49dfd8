"""The store interface. Every backend (``sqlite``, ``postgres``) implements it whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..records import AgentRun, Channel, ChatSession, Job, Message, MessageServer, StoredMessage
from .search import KeywordQuery, SearchHit, SearchScope


class StoreError(Exception):
    """The database refused or failed an operation."""


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        ...

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        ...

    # message servers
    async def ensure_message_server(self, server: MessageServer) -> MessageServer: ...
    async def get_message_server(self, server_id: str) -> MessageServer | None: ...
    async def list_message_servers(self) -> list[MessageServer]: ...
    async def add_server_agent(self, server_id: str, agent_id: str) -> None: ...
    async def list_server_agents(self, server_id: str) -> list[str]: ...

    # channels
    async def ensure_channel(self, channel: Channel, participants: Sequence[str] = ()) -> Channel:
        """Create the channel if it does not exist (then return the existing one) and add participants."""
        ...

    async def get_channel(self, channel_id: str) -> Channel | None: ...
    async def update_channel(self, channel: Channel) -> Channel:
        """Replace the channel's mutable fields (name, type, topic, metadata, updated_at)."""
        ...

    async def add_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None: ...
    async def list_participants(self, channel_id: str) -> list[str]: ...

    # messages
    async def append_message(self, message: Message) -> StoredMessage:
        """Store a message durably with the channel's next offset (``seq``, in the same transaction);
        a repeat of (channel, author, client id) returns the original, with its offset, using none."""
        ...

    async def get_message(self, message_id: str) -> Message | None: ...

    # the outbox: a stored message is unpublished until its broadcast and agent hand-off succeeded
    async def claim_unpublished(
        self, *, now: int, lease_ms: int, limit: int, message_id: str | None = None
    ) -> list[Message]:
        """Take up to ``limit`` unpublished messages (only ``message_id`` when given), oldest first, for
        ``lease_ms``: no other caller gets them until the lease ends. A message nobody claimed is free
        ``lease_ms`` after its ``created_at`` (its live send holds it until then); a released one at once.
        """
        ...

    async def mark_published(self, message_ids: Sequence[str], at: int) -> None:
        """Record that these messages reached their room and the agents."""
        ...

    async def release_claim(self, message_id: str) -> None:
        """Publishing ``message_id`` failed: let the next retry or sweep take it at once."""
        ...

    async def list_messages(
        self,
        channel_id: str,
        *,
        limit: int,
        before: int | None = None,
        after: int | None = None,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[Message]:
        """Newest first; ``before``/``after`` are epoch milliseconds, ``before_seq``/``after_seq`` channel
        offsets (``Message.seq``), all exclusive. With an offset bound the order is by offset alone."""
        ...

    async def count_messages_after_seq(self, channel_id: str, after_seq: int, *, through: int | None = None) -> int:
        """How many of the channel's stored messages have an offset above ``after_seq`` (and at most
        ``through`` when given)."""
        ...

    # administration (REST): removing and listing what the paths above created
    async def remove_server_agent(self, server_id: str, agent_id: str) -> bool:
        """False when the agent was not on that server."""
        ...

    async def list_channels(self, server_id: str, *, participant: str | None = None) -> list[Channel]:
        """The server's channels, oldest first; with ``participant``, only those it takes part in."""
        ...

    async def delete_channel(self, channel_id: str) -> bool:
        """Delete the channel with its messages, participants and sessions; False when it did not exist."""
        ...

    async def remove_participant(self, channel_id: str, entity_id: str) -> bool: ...
    async def set_participants(self, channel_id: str, entity_ids: Sequence[str]) -> None:
        """Make ``entity_ids`` the channel's participants, exactly."""
        ...

    async def delete_message(self, channel_id: str, message_id: str) -> bool: ...
    async def clear_messages(self, channel_id: str) -> int:
        """Delete every message of the channel; returns how many."""
        ...

    async def update_message(self, message: Message) -> Message:
        """Replace a stored message's content, raw message, source type, reply link, metadata, updated_at."""
        ...

    async def list_messages_after(self, channel_id: str, *, after: int, limit: int) -> list[Message]:
        """The oldest ``limit`` messages created after ``after`` (epoch ms, exclusive), oldest first."""
        ...

    # the user's control over the memory: an entity's messages, export, forget, retention
    async def list_member_messages(
        self,
        entity_id: str,
        *,
        limit: int,
        before: int | None = None,
        channel_id: str | None = None,
        reader: str | None = None,
        target_keys: Sequence[str] = (),
    ) -> list[Message]:
        """Newest first: messages of the channels ``entity_id`` takes part in (a participant, it has written
        there, the channel's id is its id, or the channel's metadata names it under one of ``target_keys``);
        only ``channel_id`` when given; only channels ``reader`` is a participant of when given (data
        isolation); ``before`` is epoch milliseconds, exclusive."""
        ...

    async def page_messages(self, channel_id: str, *, after_seq: int, limit: int) -> list[Message]:
        """Oldest first by offset: up to ``limit`` of the channel's messages with ``seq`` above ``after_seq``."""
        ...

    async def delete_messages_by_author(self, author_id: str, *, limit: int) -> list[tuple[str, str]]:
        """Delete up to ``limit`` of the author's messages (oldest first); (channel id, message id) of each."""
        ...

    async def delete_messages_before(self, before: int, *, limit: int) -> list[tuple[str, str]]:
        """Delete up to ``limit`` messages created before ``before`` (epoch ms, exclusive), oldest first;
        (channel id, message id) of each."""
        ...

    # sessions
    async def save_session(self, session: ChatSession) -> None:
        """Insert or replace the session."""
        ...

    async def get_session(self, session_id: str) -> ChatSession | None: ...
    async def delete_session(self, session_id: str) -> bool: ...
    async def list_sessions(self, *, active_at: int | None = None) -> list[ChatSession]:
        """All sessions, oldest first; only those not expired at ``active_at`` when it is given."""
        ...

    async def session_counts(self, now: int) -> tuple[int, int, int]:
        """(all stored, active at ``now``, active and within their warning threshold of expiry)."""
        ...

    async def delete_sessions_expired_before(self, before: int) -> int: ...

    # search (store/search.py): words always; vectors once ``enable_vectors`` succeeded
    async def keyword_search(self, query: KeywordQuery, scope: SearchScope, limit: int) -> list[SearchHit]:
        """The best ``limit`` messages in ``scope`` matching ``query``, best first."""
        ...

    async def member_channels(self, entity_id: str) -> list[str]:
        """The channels ``entity_id`` is a participant of."""
        ...

    async def enable_vectors(self) -> None:
        """Make vector storage and search ready; ``VectorsUnavailable`` says what is missing."""
        ...

    async def vector_search(
        self, model: str, vector: Sequence[float], scope: SearchScope, limit: int
    ) -> list[SearchHit]:
        """The ``limit`` messages in ``scope`` whose ``model`` vectors are nearest ``vector`` (cosine)."""
        ...

    async def pending_embeddings(self, model: str, *, after: int, limit: int) -> list[tuple[int, str, str]]:
        """(position, id, text) of the oldest ``limit`` messages past position ``after`` without a vector
        of ``model``; the position is the store's own insertion order, for the next call's ``after``."""
        ...

    async def message_texts(self, message_ids: Sequence[str]) -> list[tuple[str, str]]:
        """(id, text) of those of ``message_ids`` still stored."""
        ...

    async def save_vectors(self, model: str, items: Sequence[tuple[str, str, Sequence[float]]]) -> int:
        """Store (id, the text it was made from, vector) of each, unless the message is gone or its text
        changed meanwhile; returns how many were stored."""
        ...

    # agent runs: what each agent did with each message (the ElizaOS run and model-call views)
    async def save_agent_run(self, run: AgentRun, *, keep: int) -> None:
        """Insert or replace the run, then delete the agent's runs beyond its newest ``keep``."""
        ...

    async def get_agent_run(self, agent_id: str, run_id: str) -> AgentRun | None: ...
    async def list_agent_runs(
        self, agent_id: str, *, limit: int, channel_id: str | None = None, status: str | None = None
    ) -> tuple[list[AgentRun], int]:
        """The newest ``limit`` runs (by start, newest first) and how many match in all."""
        ...

    # jobs (the Jobs API)
    async def save_job(self, job: Job) -> None:
        """Insert or replace the job."""
        ...

    async def get_job(self, job_id: str) -> Job | None: ...
    async def list_jobs(self, *, limit: int, status: str | None = None, user_id: str | None = None) -> list[Job]:
        """Newest first, optionally only those of one status or one user."""
        ...

    async def list_unfinished_jobs(self) -> list[Job]:
        """Jobs still pending or processing, oldest first (to resume after a restart)."""
        ...

    async def job_counts(self, *, user_id: str | None = None) -> dict[str, int]:
        """How many jobs are stored in each status (of one user when given); statuses with none are left out."""
        ...

    async def completed_job_average_ms(self) -> float:
        """The mean time from creation to answer of the completed jobs stored (0 when none)."""
        ...

    async def delete_jobs_finished_before(self, before: int) -> int:
        """Remove jobs that finished (completed, failed, timed out) before ``before``; how many."""
        ...

    async def delete_oldest_finished_jobs(self, count: int) -> int:
        """Remove the ``count`` oldest finished jobs (to make room); how many."""
        ...

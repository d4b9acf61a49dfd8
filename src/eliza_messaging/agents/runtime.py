"""One agent at work: it takes messages from the queue and answers them, channel by channel.

Each channel has its own lane, so many channels are answered at once while one channel's
replies come in order. A newer message the agent will answer supersedes a reply still being
generated in that channel (when a person sent it): the old stream ends with ``messageStreamError`` (``superseded``)
and the input is re-enabled, so no client is left with a stuck input.

Everything here is bounded: a lane holds at most ``max_queued`` messages (a person's newer
message supersedes every older one still queued, not only the one being answered; beyond the
bound the oldest queued message is dropped), and an agent keeps at most ``max_lanes`` lanes (a
message for one more channel is declined while that many are busy). A dropped or declined
message still gets its outcome (``messageComplete``; REST waiters hear why), so nobody waits for it.

Lanes live in this process. With several nodes (``REDIS_URL``) every node runs every agent and
the queue hands all messages of a channel to one node's copy at a time (``queue/redis.py``: the
node holding the channel's partition), so a channel still has one lane across the nodes: its
replies come in order, and a person's newer message sent to any node supersedes the reply in
progress on the node that holds the lane. When that node dies, another takes the channel over and
gets what was left unfinished first, marked redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from ..messaging.errors import MessagingError
from ..messaging.reply import Reply
from ..messaging.runs import RunRecorder
from ..messaging.service import MessagingService
from ..models.base import GenerationRequest, ModelError, TextModel
from ..protocol.types import ChannelType
from ..records import Channel, Message
from .character import Character
from .context import build_request
from .decision import Verdict, is_dm_like, reply_depth, takes_part, verdict

log = logging.getLogger(__name__)

SUPERSEDED = "Superseded by a newer message in this channel."
BACKLOG = "Dropped: {name} has too many messages waiting in this channel; send it again later."
BUSY = "{name} is answering in too many channels at once; send it again later."
# A channel's lane retires after this long without messages (it is made again on the next one).
LANE_IDLE_S = 60.0
ANSWERED_PAGE = 200  # messages read at a time when checking for a stored reply (those after the trigger)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    history_limit: int = 32
    timeout_s: float = 60.0
    max_agent_chain: int = 2
    seed: int | None = None
    max_queued: int = 64  # messages waiting in one channel's lane
    max_lanes: int = 10_000  # channels one agent works in at once
    recall: bool = True  # also read the older messages most related to the trigger (context.py)
    recall_tokens: int = 512  # their budget in the prompt (about 4 characters a token)
    recall_messages: int = 8  # at most this many recalled messages


@dataclass(frozen=True, slots=True)
class _Taken:
    """A message taken into a lane, with the future that says the agent is done with it (see
    ``on_message``); ``redelivered``: the queue handed it out before, so it may be answered already."""

    message: Message
    channel: Channel
    finished: asyncio.Future[None]
    redelivered: bool = False


class _Lane:
    """The queue of messages one agent will handle in one channel, and the reply in progress."""

    def __init__(self, max_queued: int) -> None:
        self.queue: asyncio.Queue[_Taken] = asyncio.Queue(max_queued)
        self.current: asyncio.Task[None] | None = None
        self.worker: asyncio.Task[None] | None = None

    def take_queued(self) -> list[_Taken]:
        """Everything still waiting (not the message being answered), oldest first."""
        taken = []
        while not self.queue.empty():
            taken.append(self.queue.get_nowait())
        return taken


class Agent:
    def __init__(
        self, character: Character, model: TextModel, messaging: MessagingService, options: AgentOptions | None = None
    ) -> None:
        self.character = character
        self.model = model
        self.messaging = messaging
        self.options = options or AgentOptions()
        self._lanes: dict[str, _Lane] = {}
        self.status = "active"

    @property
    def id(self) -> str:
        return self.character.id

    @property
    def name(self) -> str:
        return self.character.name

    @property
    def busy(self) -> bool:
        """A message is waiting or being answered in one of this agent's channels."""
        return any(
            not lane.queue.empty() or (lane.current is not None and not lane.current.done())
            for lane in self._lanes.values()
        )

    # intake (called by the queue, one message at a time) ---------------------------------

    async def on_message(
        self, message: Message, channel: Channel, *, redelivered: bool = False
    ) -> asyncio.Future[None] | None:
        """Take a message into its channel's lane; None when the agent takes no part in it, else a
        future that resolves once the agent is done with it (answered, stayed silent, failed or was
        superseded), for a queue that only acknowledges finished work (the Redis one)."""
        if message.author_id == self.id:
            return None
        participants = await self.messaging.participants(channel.id)
        if not takes_part(self.id, channel, message, participants):
            return None
        quick = await self._verdict(message, channel)
        taken = _Taken(message, channel, asyncio.get_running_loop().create_future(), redelivered)
        if channel.id not in self._lanes and len(self._lanes) >= self.options.max_lanes:
            await self._drop(taken, BUSY.format(name=self.name))
            return taken.finished
        # From here to put_nowait nothing awaits, so an idle lane cannot retire in between.
        lane = self._lane(channel.id)
        superseded: list[_Taken] = []
        overflow: list[_Taken] = []
        # Only a person's newer message supersedes: another agent's reply is answered after ours.
        if quick is Verdict.ANSWER and reply_depth(message) == 0:
            superseded = lane.take_queued()
            if lane.current is not None and not lane.current.done():
                lane.current.cancel(SUPERSEDED)
        elif lane.queue.full():
            overflow = [lane.queue.get_nowait()]
        lane.queue.put_nowait(taken)
        for item in superseded:
            await self._drop(item, SUPERSEDED, superseded=True)
        for item in overflow:
            await self._drop(item, BACKLOG.format(name=self.name))
        return taken.finished

    async def _drop(self, item: _Taken, reason: str, *, superseded: bool = False) -> None:
        """A message the agent will not answer after all still gets its outcome (complete, and why)."""
        try:
            async with self.messaging.open_reply(self.id, self.name, item.channel, item.message) as reply:
                await reply.fail(reason, superseded=superseded)
        finally:
            if not item.finished.done():
                item.finished.set_result(None)

    def _lane(self, channel_id: str) -> _Lane:
        lane = self._lanes.get(channel_id)
        if lane is None:
            lane = self._lanes[channel_id] = _Lane(self.options.max_queued)
            lane.worker = asyncio.create_task(self._work(channel_id, lane), name=f"agent {self.name} {channel_id}")
        return lane

    async def _verdict(self, message: Message, channel: Channel) -> Verdict:
        replied_to_author = None
        if message.in_reply_to_root_message_id:
            original = await self.messaging.message(message.in_reply_to_root_message_id)
            replied_to_author = original.author_id if original else None
        return verdict(
            agent_id=self.id,
            agent_name=self.name,
            channel=channel,
            message=message,
            replied_to_author=replied_to_author,
            max_agent_chain=self.options.max_agent_chain,
        )

    async def _work(self, channel_id: str, lane: _Lane) -> None:
        while True:
            try:
                taken = await asyncio.wait_for(lane.queue.get(), LANE_IDLE_S)
            except TimeoutError:
                if lane.queue.empty():  # idle: retire, so channels talked to once hold nothing
                    self._lanes.pop(channel_id, None)
                    return
                continue
            lane.current = asyncio.create_task(self._handle(taken))
            try:
                await lane.current
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():  # the agent is closing, not superseding
                    taken.finished.cancel()
                    raise
            except Exception:  # _handle reports its own failures to the room; keep the lane alive
                log.exception("agent lane failed a message", extra={"agent": self.name, "channel": channel_id})
            finally:
                lane.current = None
            if not taken.finished.done():
                taken.finished.set_result(None)

    # one message ------------------------------------------------------------------------

    async def _handle(self, taken: _Taken) -> None:
        # Leaving the reply always gives the message its outcome (complete; input re-enabled when it
        # was disabled), even when superseded or failing while deciding, so no client or REST waiter
        # is left waiting for it. A redelivered message answered already gets its outcome again (its
        # node may have died before sending it), never a second answer. The run records what happened.
        trigger, channel = taken.message, taken.channel
        run = self.messaging.runs.start(self.id, trigger, channel)
        ending: tuple[str, str | None] = ("failed", "The agent stopped before an outcome.")
        reply: Reply | None = None
        try:
            async with self.messaging.open_reply(self.id, self.name, channel, trigger) as reply:
                if taken.redelivered and await self._answered(trigger):
                    ending = ("answered before", None)
                    return
                request, decided, thought = await self._decide(trigger, channel, run)
                if decided is Verdict.IGNORE:
                    await reply.decline()
                    ending = ("ignored", None)
                    return
                ending = await self._answer(reply, trigger, request, run, thought)
        except asyncio.CancelledError:
            # a reply stored before the cancel reached it was given, whatever came after
            ending = ("replied", None) if reply is not None and reply.stored else ("superseded", SUPERSEDED)
            raise
        finally:
            await run.end(*ending)

    async def _answered(self, trigger: Message) -> bool:
        """Whether this agent's reply to ``trigger`` is stored already: asked of redelivered messages only
        (Redis, after a node died between storing the reply and acknowledging the message), which must
        not get a second answer; the first one was broadcast and is in history. When the store cannot
        be read, the agent goes on (and its own reads report the failure to the room)."""
        after_seq = trigger.seq
        while True:
            try:
                later = await self.messaging.history(trigger.channel_id, limit=ANSWERED_PAGE, after_seq=after_seq)
            except Exception:  # cannot tell: answer (deciding reads the store too, and reports its failure)
                log.warning("could not check for a stored reply", extra={"agent": self.name}, exc_info=True)
                return False
            if any(m.author_id == self.id and m.in_reply_to_root_message_id == trigger.id for m in later):
                log.info("already answered; not again", extra={"agent": self.name, "channel": trigger.channel_id})
                return True
            if len(later) < ANSWERED_PAGE:
                return False
            after_seq = max(m.seq for m in later)

    async def _decide(
        self, trigger: Message, channel: Channel, run: RunRecorder
    ) -> tuple[GenerationRequest, Verdict, str]:
        """The request, whether to answer, and why (the reply's ``thought``, as ElizaOS replies carry one)."""
        history = await self.messaging.history(
            channel.id, limit=self.options.history_limit, before=trigger.created_at + 1
        )
        request = build_request(
            self.character,
            history,
            trigger,
            timeout_s=self.options.timeout_s,
            seed=self.options.seed,
            recalled=await self._recall(trigger, channel, history),
            recall_tokens=self.options.recall_tokens,
        )
        decided = await self._verdict(trigger, channel)
        thought = _thought(trigger, channel)
        if decided is Verdict.ASK_MODEL:
            started = time.monotonic()
            outcome = "error"
            try:
                decided = Verdict.ANSWER if await self.model.should_respond(request) else Verdict.IGNORE
                outcome = "ok"
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except Exception:
                log.exception("should_respond failed", extra={"agent": self.name})
                decided = Verdict.IGNORE
            finally:
                run.model_call(
                    "TEXT_SMALL",
                    self.model.name,
                    started=started,
                    prompt_chars=_prompt_chars(request),
                    response_chars=0,
                    outcome=outcome,
                )
            who = trigger.author_name or "Someone"
            thought = f"{who} did not name me; my model judged the message worth answering."
        return request, decided, thought

    async def _recall(self, trigger: Message, channel: Channel, history: list[Message]) -> list[Message]:
        """Older messages related to the trigger, beyond the recent window: only when the window is full
        (there is something older) or in a DM (earlier DMs with the same person count too)."""
        options = self.options
        if not options.recall or options.recall_tokens <= 0:
            return []
        if len(history) < options.history_limit and channel.type != ChannelType.DM:
            return []
        try:
            return await self.messaging.search.recall(
                channel,
                trigger,
                agent_id=self.id,
                exclude_ids=[m.id for m in history],
                limit=options.recall_messages,
            )
        except MessagingError:
            log.warning("recall failed; answering from the recent window", extra={"agent": self.name})
            return []

    async def _answer(
        self, reply: Reply, trigger: Message, request: GenerationRequest, run: RunRecorder, thought: str
    ) -> tuple[str, str | None]:
        """Stream and store the reply; how it ended (a run outcome and the error, if any)."""
        await reply.start()
        started = time.monotonic()
        call_outcome = "error"
        try:
            try:
                async with asyncio.timeout(self.options.timeout_s):
                    async for piece in self.model.stream(request):
                        if piece:
                            await reply.chunk(piece)
                call_outcome = "ok"
            except TimeoutError:
                call_outcome = "timeout"
                raise
            except asyncio.CancelledError:
                call_outcome = "cancelled"
                raise
            finally:
                run.model_call(
                    f"TEXT_{request.size.upper()}",
                    self.model.name,
                    started=started,
                    prompt_chars=_prompt_chars(request),
                    response_chars=len(reply.text),
                    outcome=call_outcome,
                )
            text = reply.text.strip()
            if not text:
                raise ModelError(f"{self.name}'s model returned an empty reply.")
            await reply.finish(
                text,
                metadata={
                    "thought": thought,
                    "actions": ["REPLY"],
                    "replyDepth": reply_depth(trigger) + 1,
                    "model": self.model.name,
                    "runId": run.id,
                },
            )
        except asyncio.CancelledError:
            await reply.fail(SUPERSEDED, superseded=True)  # a reply already stored just ends, not failed
            raise
        except TimeoutError:
            message = f"{self.name} did not finish replying within {self.options.timeout_s:g} s."
            await reply.fail(message)
            return "timeout", message
        except ModelError as exc:
            await reply.fail(str(exc))
            return "failed", str(exc)
        except Exception as exc:
            log.exception("agent reply failed", extra={"agent": self.name, "channel": reply.channel.id})
            await reply.fail(f"{self.name} failed to reply: {exc}")
            return "failed", f"{type(exc).__name__}"
        log.debug("replied", extra={"agent": self.name, "channel": reply.channel.id, "chars": len(reply.text)})
        return "replied", None

    async def close(self) -> None:
        lanes = list(self._lanes.values())  # a lane may retire itself while we wait below
        for lane in lanes:
            for task in (lane.current, lane.worker):
                if task is not None:
                    task.cancel()
        for lane in lanes:
            for task in (lane.current, lane.worker):
                if task is not None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            while not lane.queue.empty():  # never started: not done, so a redelivering queue hands them on
                lane.queue.get_nowait().finished.cancel()
        self._lanes.clear()
        await self.model.aclose()


def _prompt_chars(request: GenerationRequest) -> int:
    return sum(len(turn.content) for turn in request.turns)


def _thought(trigger: Message, channel: Channel) -> str:
    """Why the agent answers without asking its model: what ElizaOS shows as the reply's thought."""
    who = trigger.author_name or "Someone"
    if is_dm_like(channel):
        return f"{who} wrote to me directly, so I answer."
    return f"{who} addressed me in this channel, so I answer."

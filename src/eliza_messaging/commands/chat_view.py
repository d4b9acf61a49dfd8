"""How ``chat`` shows things in the terminal (Rich): history, live messages, streamed replies.

A streamed reply is printed on one open line, chunk by chunk; anything else that has to be
printed meanwhile first ends that line, and the reply goes on under a new prefix. In a terminal,
a prompt (``you> ``) waits on the last line for what the user types; anything printed takes its
line and puts it back underneath.
"""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Console
from rich.markup import escape

from ..client import Message, ReplyChunk

_UP_AND_CLEAR = "\x1b[1A\x1b[2K"
_CLEAR_LINE = "\r\x1b[2K"
PROMPT = "you> "
TYPING_QUIET_S = 5.0


class ChatView:
    def __init__(self, console: Console, own_id: str) -> None:
        self.console = console
        self.own_id = own_id
        self.names: dict[str, str] = {}
        self._open: str | None = None  # id of the reply whose line is open
        self._streamed: dict[str, str] = {}  # reply id -> text shown so far
        self._typing_shown: dict[str, float] = {}  # user id -> when their typing was last seen
        self._prompting = False  # a prompt is wanted (once the chat is open, in a terminal)
        self._prompt_shown = False  # the prompt is on the last line now

    # the prompt ---------------------------------------------------------------------------

    def start_prompt(self) -> None:
        """From now on keep a prompt on the last line (only in a terminal: piped output stays plain)."""
        self._prompting = self.console.is_terminal and not self.console.is_dumb_terminal
        self._show_prompt()

    def line_entered(self) -> None:
        """The user pressed Enter: the prompt's line is theirs now; show a fresh prompt when needed."""
        self._prompt_shown = False

    def prompt_again(self) -> None:
        self._prompt_shown = False
        self._show_prompt()

    def _show_prompt(self) -> None:
        if self._prompting and not self._prompt_shown and self._open is None:
            self.console.print(f"[bold]{PROMPT}[/]", end="", soft_wrap=True, highlight=False)
            self.console.file.flush()
            self._prompt_shown = True

    def _hide_prompt(self) -> None:
        if self._prompt_shown:
            self.console.file.write(_CLEAR_LINE)
            self._prompt_shown = False

    # plain lines --------------------------------------------------------------------------

    def info(self, text: str) -> None:
        self._line(f"[dim]{escape(text)}[/]")

    def error(self, text: str) -> None:
        self._line(f"[red]{escape(text)}[/]")

    def message(self, message: Message) -> None:
        """A whole message (history, or a live one from someone else)."""
        if message.id in self._streamed:
            self._finish_stream(message)
            return
        self.names.setdefault(message.sender_id, message.sender_name)
        own = message.sender_id == self.own_id
        who = "You" if own else message.sender_name or message.sender_id[:8]
        style = "bold green" if own else "bold magenta" if message.in_reply_to else "bold cyan"
        when = datetime.fromtimestamp(message.created_at / 1000).strftime("%H:%M")
        self._line(f"[dim]{when}[/] [{style}]{escape(who)}:[/] {escape(message.text)}")

    def own_input(self, text: str, *, replace_echo: bool) -> None:
        """What the user just typed, shown as theirs (over the terminal's echo of it when possible)."""
        self.line_entered()
        if replace_echo and self._open is None and self.console.is_terminal and not self.console.is_dumb_terminal:
            self.console.file.write(_UP_AND_CLEAR)
        when = datetime.now().strftime("%H:%M")
        self._line(f"[dim]{when}[/] [bold green]You:[/] {escape(text)}")

    def typing(self, user_id: str) -> None:
        """Say so once per burst: clients repeat typing events while someone keeps typing."""
        now = time.monotonic()
        if now - self._typing_shown.get(user_id, -TYPING_QUIET_S) >= TYPING_QUIET_S:
            self.info(f"{self.names.get(user_id, user_id[:8])} is typing…")
        self._typing_shown[user_id] = now

    # streamed replies ---------------------------------------------------------------------

    def chunk(self, chunk: ReplyChunk) -> None:
        if self._open != chunk.message_id:
            self._hide_prompt()
            self._close_line()
            name = self.names.get(chunk.agent_id, "agent")
            when = datetime.now().strftime("%H:%M")
            self.console.print(f"[dim]{when}[/] [bold magenta]{escape(name)}:[/] ", end="", soft_wrap=True)
            self._open = chunk.message_id
        self._streamed[chunk.message_id] = self._streamed.get(chunk.message_id, "") + chunk.text
        self.console.print(escape(chunk.text), end="", soft_wrap=True, highlight=False)
        self.console.file.flush()

    def stream_failed(self, message_id: str, error: str) -> None:
        self._streamed.pop(message_id, None)
        self.error(f"The agent failed to answer: {error}")

    def _finish_stream(self, message: Message) -> None:
        shown = self._streamed.pop(message.id)
        rest = message.text[len(shown) :] if message.text.startswith(shown) else ""
        if rest and self._open == message.id:
            self.console.print(escape(rest), end="", soft_wrap=True, highlight=False)
        if self._open == message.id:
            self.console.print()
            self._open = None
            self._show_prompt()
        elif rest or not message.text.startswith(shown):
            self._line(f"[bold magenta]{escape(message.sender_name)}:[/] {escape(message.text)}")

    # helpers ------------------------------------------------------------------------------

    def _close_line(self) -> None:
        if self._open is not None:
            self.console.print()
            self._open = None

    def _line(self, markup: str) -> None:
        self._hide_prompt()
        self._close_line()
        self.console.print(markup, soft_wrap=True, highlight=False)
        self._show_prompt()

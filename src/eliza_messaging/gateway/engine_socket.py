"""python-engineio's socket with a cheaper wait for outgoing packets.

python-engineio's ``AsyncSocket.poll`` waits for the next packet with ``asyncio.wait_for``, which
(on Python 3.11) wraps every wait in a new task with its own timer: one task per delivery per
socket in a busy room, and one pending task (about 3 KB with its timer and future) per idle
socket. ``QueuedSocket.poll`` takes what is already queued without waiting, and otherwise waits
under ``asyncio.timeout``, which needs no task. What it returns, and when it gives up (no packet
within a ping cycle, or cancelled), is python-engineio's.

python-engineio creates its protocol 4 sockets itself, as ``AsyncSocket``; the server turns each
into a ``QueuedSocket`` as it connects (``adopt``), before anything waits on its queue.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import async_socket, exceptions


class QueuedSocket(async_socket.AsyncSocket):  # type: ignore[misc]
    async def poll(self) -> list[Any]:
        """The packets to send (at least one, waiting up to a ping cycle for it); [] once closing."""
        queue = self.queue
        if queue.empty():
            try:
                async with asyncio.timeout(self.server.ping_interval + self.server.ping_timeout):
                    first = await queue.get()
            except (TimeoutError, asyncio.CancelledError):  # as python-engineio's: the writer ends
                raise exceptions.QueueEmpty() from None
        else:
            first = queue.get_nowait()
        queue.task_done()
        if first is None:
            return []
        packets = [first]
        while not queue.empty():
            pkt = queue.get_nowait()
            queue.task_done()
            if pkt is None:
                queue.put_nowait(None)  # the writer that comes next ends too
                break
            packets.append(pkt)
        return packets


def adopt(socket: Any) -> None:
    """Give a socket python-engineio created as a plain ``AsyncSocket`` the cheaper ``poll``."""
    if type(socket) is async_socket.AsyncSocket:
        socket.__class__ = QueuedSocket

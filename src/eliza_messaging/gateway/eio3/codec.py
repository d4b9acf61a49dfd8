"""Engine.IO protocol 3 wire codec (engine.io-parser 1.x/2.x), on top of ``engineio.packet.Packet``.

python-engineio only speaks protocol 4. The packets themselves are almost the same in 3; what
differs is how they are framed, and this module holds exactly those differences:

* text packets are identical, except that a base64 binary packet is ``b<type><base64>``
  (protocol 4: ``b<base64>``);
* a binary packet carries its type as a leading byte (``0x04`` + data) in websocket frames and
  in binary payloads (protocol 4: the bare data);
* polling payloads are length-prefixed, ``<length>:<packet>...`` as text (length in UTF-16 code
  units, as JavaScript counts), or, for clients with XHR2, a binary framing
  ``<0 string | 1 binary><length as one byte per decimal digit><0xFF><bytes>`` (protocol 4:
  packets joined by ``\\x1e``);
* JSONP wraps the text payload in ``___eio[<j>]("...");``.

One historical wrinkle: engine.io-parser 1.x (socket.io-client 1.x) UTF-8 encodes every text
packet of a *text* payload into a "binary string" (one character per byte, the length counting
bytes) before framing it; 2.x (socket.io-client 2.x) does not. Both say ``EIO=3``, so the decoder
recognises the 1.x form by its shape (see :func:`decode_text_payload`), and the encoder escapes
non-ASCII text inside Socket.IO JSON (``\\uXXXX``) so that both generations read it the same.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from engineio import packet as eio_packet
from engineio import payload as eio_payload

Packet = eio_packet.Packet

#: Engine.IO packet type of messages, the only type that may carry binary data.
MESSAGE = eio_packet.MESSAGE
#: Content type of binary polling payloads; clients test for it by exact comparison.
BINARY_CONTENT_TYPE = "application/octet-stream"
TEXT_CONTENT_TYPE = "text/plain; charset=UTF-8"
JSONP_CONTENT_TYPE = "text/javascript; charset=UTF-8"
#: Least upper bound of packets taken from one POST body (python-engineio's default for protocol 4
#: is 16; old clients batch every emit buffered during a poll cycle, so allow more).
MAX_DECODE_PACKETS = 256
#: engine.io-parser gives up on length fields longer than this many digits.
_MAX_LENGTH_DIGITS = 310
_PACKET_TYPES = frozenset("0123456")
_DIGITS = re.compile(r"[0-9]+")


class TextFlavor(StrEnum):
    """How a client frames non-ASCII text in *text* polling payloads (websocket frames never differ)."""

    #: Not seen yet: only ASCII so far.
    UNKNOWN = "unknown"
    #: engine.io-parser 1.x: each packet is UTF-8 encoded into one character per byte.
    UTF8_BYTES = "utf8-bytes"
    #: engine.io-parser 2.x: packets are plain strings, lengths count UTF-16 code units.
    PLAIN = "plain"


class PayloadError(ValueError):
    """A polling payload or packet that does not follow Engine.IO protocol 3."""


def packet_limit() -> int:
    """Packets accepted per payload: ``MAX_DECODE_PACKETS``, or more if the app raised engineio's limit."""
    return max(MAX_DECODE_PACKETS, int(eio_payload.Payload.max_decode_packets))


# --------------------------------------------------------------------------- packets


def _text_data(pkt: Any) -> str:
    """The text form of a non-binary packet's data, as python-engineio encodes it."""
    data = pkt.data
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    if isinstance(data, dict | list):
        return str(pkt.json.dumps(data, separators=(",", ":")))
    return str(data)


def _binary_data(pkt: Any) -> bytes | None:
    """The bytes of a binary packet, or None for text packets.

    Never uses ``Packet.encode()``: python-socketio shares one packet object among all the
    recipients of a broadcast and ``encode()`` caches its first result, which may be the
    protocol 4 form made for another client.
    """
    if isinstance(pkt.data, bytes | bytearray):
        return bytes(pkt.data)
    return None


def encode_text_packet(pkt: Any) -> str:
    """A packet as text: ``<type><data>`` or, for binary data, ``b<type><base64>``."""
    data = _binary_data(pkt)
    if data is not None:
        return f"b{pkt.packet_type}{base64.b64encode(data).decode('ascii')}"
    return f"{pkt.packet_type}{_text_data(pkt)}"


def encode_binary_packet(pkt: Any) -> bytes:
    """A binary packet as bytes: the type byte followed by the data."""
    data = _binary_data(pkt)
    if data is None:
        raise PayloadError("only packets with binary data have a binary encoding")
    return bytes((pkt.packet_type,)) + data


def encode_ws_frame(pkt: Any, *, b64: bool = False) -> str | bytes:
    """One websocket frame; ``b64`` is for clients that connected with ``b64=1`` (no binary frames)."""
    if _binary_data(pkt) is not None and not b64:
        return encode_binary_packet(pkt)
    return encode_text_packet(pkt)


def decode_text_packet(text: str) -> Any:
    """Decode one text packet, including the ``b<type><base64>`` form of binary packets."""
    if not text:
        raise PayloadError("empty packet")
    if text[0] == "b":
        if text[1:2] != str(MESSAGE):
            raise PayloadError(f"base64 packet of a type other than message: {text[:8]!r}")
        try:
            data = base64.b64decode(text[2:], validate=True)
        except binascii.Error as exc:
            raise PayloadError(f"bad base64 packet: {exc}") from exc
        return Packet(MESSAGE, data=data)
    if text[0] not in _PACKET_TYPES:
        raise PayloadError(f"unknown packet type in {text[:8]!r}")
    return Packet(encoded_packet=text)


def decode_binary_packet(data: bytes) -> Any:
    """Decode one binary packet: a type byte (always message) and the data."""
    if not data:
        raise PayloadError("empty binary packet")
    if data[0] != MESSAGE:
        raise PayloadError(f"binary packet of type {data[0]}, only message ({MESSAGE}) may be binary")
    return Packet(MESSAGE, data=bytes(data[1:]))


# --------------------------------------------------------------------------- text helpers


def utf16_len(text: str) -> int:
    """Length of ``text`` as JavaScript's ``String.length`` counts it (UTF-16 code units)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code > 0xFFFF:
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# engine.io message type, socket.io type, [attachments "-"], [namespace ","], [ack id]
_SOCKETIO_HEADER = re.compile(r"4[0-6](?:[0-9]+-)?(?:/[^,]*,)?[0-9]*")


def asciify(text: str) -> str:
    """Escape non-ASCII characters inside the JSON part of an Engine.IO message holding Socket.IO.

    Outside string literals JSON is pure ASCII, so replacing every non-ASCII character of the
    JSON part by its ``\\uXXXX`` escape keeps the document equal while making the framing
    independent of how a client counts or encodes characters. Anything else (a namespace with
    non-ASCII characters, a non-Socket.IO message) is returned unchanged.
    """
    if text.isascii():
        return text
    header = _SOCKETIO_HEADER.match(text)
    if header is None:
        return text
    start = header.end()
    if start >= len(text) or text[start] not in '[{"':
        return text
    return text[:start] + _NON_ASCII.sub(_escape_char, text[start:])


def _to_utf8_bytes_string(text: str) -> str:
    """engine.io-parser 1.x ``utf8.encode``: one character per UTF-8 byte."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


def _from_utf8_bytes_string(text: str, flavor: TextFlavor) -> tuple[str, TextFlavor]:
    """Undo 1.x UTF-8 "binary strings", recognising them when the flavor is still unknown.

    A packet made only of characters U+0000..U+00FF, some above U+007F, that read as bytes form
    valid UTF-8 comes from a 1.x client; any character above U+00FF, or Latin-1 text that is not
    valid UTF-8, proves a 2.x client. The guess is remembered per connection by the caller.
    """
    if flavor is TextFlavor.PLAIN or text.isascii():
        return text, flavor
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        if flavor is TextFlavor.UTF8_BYTES:
            raise PayloadError("character above U+00FF in a UTF-8 byte string") from None
        return text, TextFlavor.PLAIN
    try:
        return raw.decode("utf-8"), TextFlavor.UTF8_BYTES
    except UnicodeDecodeError:
        if flavor is TextFlavor.UTF8_BYTES:
            raise PayloadError("invalid UTF-8 in a UTF-8 byte string") from None
        return text, TextFlavor.PLAIN


# --------------------------------------------------------------------------- payloads


def encode_text_payload(packets: Sequence[Any], flavor: TextFlavor = TextFlavor.UNKNOWN) -> str:
    """``<length>:<packet>...`` for clients without binary support (``b64=1``, JSONP).

    Socket.IO JSON is escaped to ASCII first (see :func:`asciify`); whatever non-ASCII text
    remains is framed the way the client's parser generation expects.
    """
    if not packets:
        return "0:"
    parts = []
    for pkt in packets:
        text = asciify(encode_text_packet(pkt))
        if flavor is TextFlavor.UTF8_BYTES and not text.isascii():
            text = _to_utf8_bytes_string(text)
        parts.append(f"{utf16_len(text)}:{text}")
    return "".join(parts)


def decode_text_payload(payload: str, flavor: TextFlavor = TextFlavor.UNKNOWN) -> tuple[list[Any], TextFlavor]:
    """Split a text payload into packets; returns them and the (possibly newly learnt) flavor."""
    if not payload:
        raise PayloadError("empty payload")
    units = payload.encode("utf-16-le", "surrogatepass")
    packets: list[Any] = []
    limit = packet_limit()
    pos = 0
    end = len(units)
    while pos < end:
        colon = pos
        scan_end = min(end, pos + 2 * (_MAX_LENGTH_DIGITS + 1))  # a length has few digits: never scan the body
        while colon < scan_end and units[colon : colon + 2] != b":\x00":
            colon += 2
        if colon >= scan_end:
            raise PayloadError("missing ':' after a packet length")
        digits = units[pos:colon].decode("utf-16-le")
        if not _DIGITS.fullmatch(digits) or len(digits) > _MAX_LENGTH_DIGITS:
            raise PayloadError(f"bad packet length {digits[:20]!r}")
        start = colon + 2
        stop = start + 2 * int(digits)
        if stop > end:
            raise PayloadError("packet length runs past the end of the payload")
        text = units[start:stop].decode("utf-16-le", "surrogatepass")
        pos = stop
        if not text:
            continue  # "0:" is the empty payload
        text, flavor = _from_utf8_bytes_string(text, flavor)
        packets.append(decode_text_packet(text))
        if len(packets) > limit:
            raise PayloadError("too many packets in payload")
    return packets, flavor


def _length_header(kind: int, length: int) -> bytes:
    return bytes((kind, *(int(d) for d in str(length)), 0xFF))


def encode_binary_payload(packets: Iterable[Any]) -> bytes:
    """The XHR2 binary framing; text packets are sent as their UTF-8 bytes."""
    out = bytearray()
    for pkt in packets:
        if _binary_data(pkt) is not None:
            body = encode_binary_packet(pkt)
            out += _length_header(1, len(body))
        else:
            body = encode_text_packet(pkt).encode("utf-8", "surrogatepass")
            out += _length_header(0, len(body))
        out += body
    return bytes(out)


def decode_binary_payload(payload: bytes) -> list[Any]:
    """Split an XHR2 binary payload into packets."""
    if not payload:
        raise PayloadError("empty payload")
    packets: list[Any] = []
    limit = packet_limit()
    pos = 0
    end = len(payload)
    while pos < end:
        kind = payload[pos]
        if kind not in (0, 1):
            raise PayloadError(f"bad binary payload marker {kind}")
        stop_digits = payload.find(b"\xff", pos + 1)
        if stop_digits == -1 or stop_digits == pos + 1 or stop_digits - pos - 1 > _MAX_LENGTH_DIGITS:
            raise PayloadError("bad length in binary payload")
        digits = payload[pos + 1 : stop_digits]
        if any(d > 9 for d in digits):
            raise PayloadError("bad length digit in binary payload")
        length = int("".join(str(d) for d in digits))
        start = stop_digits + 1
        stop = start + length
        if stop > end:
            raise PayloadError("packet length runs past the end of the payload")
        body = payload[start:stop]
        pos = stop
        if kind == 0:
            try:
                packets.append(decode_text_packet(body.decode("utf-8")))
            except UnicodeDecodeError as exc:
                raise PayloadError(f"text packet is not UTF-8: {exc}") from exc
        else:
            packets.append(decode_binary_packet(body))
        if len(packets) > limit:
            raise PayloadError("too many packets in payload")
    return packets


def is_binary_payload(body: bytes, content_type: str | None) -> bool:
    """Binary framing is announced by the content type and always starts with byte 0 or 1."""
    if content_type and content_type.split(";")[0].strip().lower() == BINARY_CONTENT_TYPE:
        return True
    return bool(body) and body[0] in (0, 1)


# --------------------------------------------------------------------------- JSONP

_JSONP_NEWLINES = re.compile(r"(\\)?\\n")


def encode_jsonp(payload: str, index: int) -> str:
    """``___eio[<j>]("<payload>");`` with the payload as a JavaScript string literal."""
    return f"___eio[{index}]({json.dumps(payload)});"


def decode_jsonp_body(body: str) -> str:
    """The payload of a JSONP POST: form field ``d``, with the client's newline escaping undone."""
    fields = parse_qs(body, keep_blank_values=True)
    data = fields.get("d", [""])[0]
    # the client sends escaped newlines as \\\\n and newlines as \\n (engine.io jsonp transport)
    data = _JSONP_NEWLINES.sub(lambda m: m.group(0) if m.group(1) else "\n", data)
    return data.replace("\\\\n", "\\n")

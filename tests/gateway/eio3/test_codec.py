"""Engine.IO 3 codec: packets, text/binary/base64 payloads and JSONP.

The golden values were produced by the real parsers: engine.io-parser 1.2.1 (socket.io-client
1.3.0) and 2.2.1 (socket.io-client 2.x), encoding the packets
``message '2["héllo 😀"]'``, ``ping`` and ``message <01 02 ff>``.
"""

from __future__ import annotations

import json

import pytest
from engineio import packet as eio_packet
from hypothesis import given, settings
from hypothesis import strategies as st

from eliza_messaging.gateway.eio3 import codec as eio3
from eliza_messaging.gateway.eio3.codec import TextFlavor

Packet = eio_packet.Packet

# engine.io-parser 1.2.1: packets UTF-8 encoded into one character per byte, lengths in bytes
GOLDEN_V1_TEXT = '17:42["h\u00c3\u00a9llo \u00f0\u009f\u0098\u0080"]1:26:b4AQL/'
# engine.io-parser 2.2.1: plain strings, lengths in UTF-16 code units (the emoji counts 2)
GOLDEN_V2_TEXT = '14:42["h\u00e9llo \ud83d\ude00"]1:26:b4AQL/'
# both: XHR2 binary framing
GOLDEN_BINARY = (
    bytes([0, 1, 7, 255, 52, 50, 91, 34, 104, 195, 169, 108, 108, 111, 32, 240, 159, 152, 128, 34, 93])
    + bytes([0, 1, 255, 50])
    + bytes([1, 4, 255, 4, 1, 2, 255])
)
GOLDEN_MESSAGE = '2["héllo 😀"]'


def _v2_text(golden: str) -> str:
    """The golden text as it arrives over HTTP: JavaScript's surrogate pairs become one character."""
    return golden.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def _summary(packets: list[object]) -> list[tuple[int, object]]:
    return [(p.packet_type, p.data) for p in packets]  # type: ignore[attr-defined]


EXPECTED = [(eio_packet.MESSAGE, GOLDEN_MESSAGE), (eio_packet.PING, ""), (eio_packet.MESSAGE, b"\x01\x02\xff")]


# ------------------------------------------------------------------------------ packets


def test_text_packet_encoding_matches_protocol_4_except_base64() -> None:
    assert eio3.encode_text_packet(Packet(eio_packet.MESSAGE, '2["a"]')) == '42["a"]'
    assert eio3.encode_text_packet(Packet(eio_packet.PONG, "probe")) == "3probe"
    assert eio3.encode_text_packet(Packet(eio_packet.NOOP)) == "6"
    opened = eio3.encode_text_packet(Packet(eio_packet.OPEN, {"sid": "x", "upgrades": []}))
    assert opened == '0{"sid":"x","upgrades":[]}'
    assert eio3.encode_text_packet(Packet(eio_packet.MESSAGE, b"\x01\x02\x03")) == "b4AQID"


def test_binary_packet_carries_its_type_byte() -> None:
    assert eio3.encode_binary_packet(Packet(eio_packet.MESSAGE, b"\x00\xff")) == b"\x04\x00\xff"
    with pytest.raises(eio3.PayloadError):
        eio3.encode_binary_packet(Packet(eio_packet.MESSAGE, "text"))


def test_ws_frames() -> None:
    binary = Packet(eio_packet.MESSAGE, b"\x01\x02")
    assert eio3.encode_ws_frame(binary) == b"\x04\x01\x02"
    assert eio3.encode_ws_frame(binary, b64=True) == "b4AQI="
    assert eio3.encode_ws_frame(Packet(eio_packet.MESSAGE, "2[]")) == "42[]"


def test_encoding_ignores_a_shared_packets_protocol_4_cache() -> None:
    """python-socketio shares one packet among broadcast recipients; encode() caches per protocol 4."""
    pkt = Packet(eio_packet.MESSAGE, b"\x01\x02")
    assert pkt.encode(b64=True) == "bAQI="  # cached by a protocol 4 polling client
    assert eio3.encode_text_packet(pkt) == "b4AQI="
    assert eio3.encode_binary_packet(pkt) == b"\x04\x01\x02"


def test_decode_text_packets() -> None:
    assert _summary([eio3.decode_text_packet("2probe")]) == [(eio_packet.PING, "probe")]
    assert _summary([eio3.decode_text_packet("2")]) == [(eio_packet.PING, "")]
    assert _summary([eio3.decode_text_packet("5")]) == [(eio_packet.UPGRADE, "")]
    assert _summary([eio3.decode_text_packet('42["a",1]')]) == [(eio_packet.MESSAGE, '2["a",1]')]
    assert _summary([eio3.decode_text_packet("b4AQID")]) == [(eio_packet.MESSAGE, b"\x01\x02\x03")]


@pytest.mark.parametrize("bad", ["", "x", "9", "b", "b2AQID", "b4!!!", "bAQID"])
def test_decode_text_packet_rejects_garbage(bad: str) -> None:
    with pytest.raises(eio3.PayloadError):
        eio3.decode_text_packet(bad)


def test_decode_binary_packet() -> None:
    assert _summary([eio3.decode_binary_packet(b"\x04abc")]) == [(eio_packet.MESSAGE, b"abc")]
    for bad in (b"", b"\x02abc"):
        with pytest.raises(eio3.PayloadError):
            eio3.decode_binary_packet(bad)


# ------------------------------------------------------------------------------ text payloads


def test_decode_golden_text_payload_from_engine_io_parser_2() -> None:
    packets, flavor = eio3.decode_text_payload(_v2_text(GOLDEN_V2_TEXT))
    assert _summary(packets) == EXPECTED
    assert flavor is TextFlavor.PLAIN


def test_decode_golden_text_payload_from_engine_io_parser_1() -> None:
    packets, flavor = eio3.decode_text_payload(GOLDEN_V1_TEXT)
    assert _summary(packets) == EXPECTED
    assert flavor is TextFlavor.UTF8_BYTES


def test_flavor_is_sticky() -> None:
    latin1_mojibake = "\u00c3\u00a9"  # what a 2.x client sends for the text "Ã©"
    payload = f"{len(latin1_mojibake) + 1}:4{latin1_mojibake}"
    # unknown: read as 1.x UTF-8 bytes ("é"); known 2.x client: taken literally
    assert _summary(eio3.decode_text_payload(payload)[0]) == [(4, "é")]
    assert _summary(eio3.decode_text_payload(payload, TextFlavor.PLAIN)[0]) == [(4, latin1_mojibake)]
    # a known 1.x client cannot send characters above U+00FF
    with pytest.raises(eio3.PayloadError):
        eio3.decode_text_payload("2:4€", TextFlavor.UTF8_BYTES)
    with pytest.raises(eio3.PayloadError):
        eio3.decode_text_payload("2:4\u00e9", TextFlavor.UTF8_BYTES)
    # Latin-1 that is not valid UTF-8 proves a 2.x client
    assert eio3.decode_text_payload("2:4\u00e9")[1] is TextFlavor.PLAIN


def test_encode_text_payload_lengths_count_utf16_code_units() -> None:
    raw = Packet(eio_packet.MESSAGE, "😀é")  # not Socket.IO, so it stays unescaped
    assert eio3.encode_text_payload([raw]) == "4:4😀é"
    assert eio3.encode_text_payload([raw], TextFlavor.UTF8_BYTES) == "7:4" + "😀é".encode().decode("latin-1")
    assert eio3.encode_text_payload([]) == "0:"


def test_encode_text_payload_escapes_socketio_json_to_ascii() -> None:
    pkts = [
        Packet(eio_packet.MESSAGE, GOLDEN_MESSAGE),
        Packet(eio_packet.PING),
        Packet(eio_packet.MESSAGE, b"\x01\x02\xff"),
    ]
    encoded = eio3.encode_text_payload(pkts)
    assert encoded == '29:42["h\\u00e9llo \\ud83d\\ude00"]1:26:b4AQL/'
    assert encoded.isascii()
    # both parser generations read the same JSON back
    for flavor in (TextFlavor.UNKNOWN, TextFlavor.PLAIN, TextFlavor.UTF8_BYTES):
        assert eio3.encode_text_payload(pkts, flavor) == encoded
    decoded, _ = eio3.decode_text_payload(encoded)
    assert json.loads(decoded[0].data[1:]) == json.loads(GOLDEN_MESSAGE[1:])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('42["é"]', '42["\\u00e9"]'),
        ('42/chät,7["é",{"k":"ü"}]', '42/chät,7["\\u00e9",{"k":"\\u00fc"}]'),
        ('451-["bin",{"_placeholder":true,"num":0},"ß"]', '451-["bin",{"_placeholder":true,"num":0},"\\u00df"]'),
        ('44{"message":"nö"}', '44{"message":"n\\u00f6"}'),
        ('43/x,12["𝄞"]', '43/x,12["\\ud834\\udd1e"]'),
        ("4raw é", "4raw é"),
        ("2é", "2é"),
        ("ascii", "ascii"),
    ],
)
def test_asciify(text: str, expected: str) -> None:
    assert eio3.asciify(text) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "4", "x:4a", "5:4a", "2:4a3", "1:", "-1:4", "²:4a", "3:4ab" + "x"],
)
def test_decode_text_payload_rejects_garbage(bad: str) -> None:
    with pytest.raises(eio3.PayloadError):
        eio3.decode_text_payload(bad)


def test_a_length_is_looked_for_only_where_a_length_can_be() -> None:
    body = "4" + "x" * 1_000_000  # no ':' at all: refused after reading a length's worth, not the megabyte
    with pytest.raises(eio3.PayloadError, match="missing ':'"):
        eio3.decode_text_payload(body)
    with pytest.raises(eio3.PayloadError, match="missing ':'"):
        eio3.decode_text_payload("1" * 400 + ":4")  # more digits than any length has


def test_decode_text_payload_skips_empty_packets_and_limits_count() -> None:
    assert eio3.decode_text_payload("0:")[0] == []
    limit = eio3.packet_limit()
    assert limit >= eio3.MAX_DECODE_PACKETS
    assert len(eio3.decode_text_payload("1:2" * limit)[0]) == limit
    with pytest.raises(eio3.PayloadError):
        eio3.decode_text_payload("1:2" * (limit + 1))
    with pytest.raises(eio3.PayloadError):
        eio3.decode_binary_payload(b"\x00\x01\xff2" * (limit + 1))


# ------------------------------------------------------------------------------ binary payloads


def test_decode_golden_binary_payload() -> None:
    assert _summary(eio3.decode_binary_payload(GOLDEN_BINARY)) == EXPECTED


def test_encode_binary_payload_matches_engine_io_parser() -> None:
    pkts = [
        Packet(eio_packet.MESSAGE, GOLDEN_MESSAGE),
        Packet(eio_packet.PING),
        Packet(eio_packet.MESSAGE, b"\x01\x02\xff"),
    ]
    assert eio3.encode_binary_payload(pkts) == GOLDEN_BINARY
    assert eio3.encode_binary_payload([]) == b""


def test_binary_payload_long_packets_use_multi_digit_lengths() -> None:
    data = bytes(range(256)) * 5
    encoded = eio3.encode_binary_payload([Packet(eio_packet.MESSAGE, data)])
    assert encoded[:6] == bytes([1, 1, 2, 8, 1, 255])  # 1281 = type byte + 1280
    assert _summary(eio3.decode_binary_payload(encoded)) == [(eio_packet.MESSAGE, data)]


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x02\x01\xff4",  # unknown marker
        b"\x00\x01",  # no 0xff
        b"\x00\xff4",  # no length digits
        b"\x00\x0a\xff4",  # digit > 9
        b"\x00\x05\xff4",  # runs past the end
        b"\x00\x02\xff4\xff",  # text packet is not UTF-8
        b"\x01\x02\xff\x02a",  # binary packet of type ping
    ],
)
def test_decode_binary_payload_rejects_garbage(bad: bytes) -> None:
    with pytest.raises(eio3.PayloadError):
        eio3.decode_binary_payload(bad)


def test_is_binary_payload() -> None:
    assert eio3.is_binary_payload(b"1:2", "application/octet-stream")
    assert eio3.is_binary_payload(b"\x00\x01\xff2", None)
    assert eio3.is_binary_payload(b"\x01\x01\xff2", "text/plain")
    assert not eio3.is_binary_payload(b"1:2", "text/plain;charset=UTF-8")
    assert not eio3.is_binary_payload(b"", None)


# ------------------------------------------------------------------------------ JSONP


def test_jsonp_response_is_a_javascript_call() -> None:
    body = eio3.encode_jsonp('5:42["a\\"\n\u2028"]', 3)
    assert body.startswith("___eio[3](") and body.endswith(");")
    assert "\n" not in body and "\u2028" not in body
    assert json.loads(body[len("___eio[3](") : -2]) == '5:42["a\\"\n\u2028"]'


def test_jsonp_post_body() -> None:
    # the client escapes newlines as \n and already escaped ones as \\n, then form-encodes
    assert eio3.decode_jsonp_body("d=7%3A42%5B%22a%22%5D") == '7:42["a"]'
    assert eio3.decode_jsonp_body("d=" + "a\\nb\\\\nc".replace("\\", "%5C")) == "a\nb\\nc"
    assert eio3.decode_jsonp_body("d=1%3A2+") == "1:2 "


# ------------------------------------------------------------------------------ properties

_texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_packets = st.one_of(
    st.builds(lambda t: Packet(eio_packet.MESSAGE, "2" + json.dumps([t], ensure_ascii=False)), _texts),
    st.builds(lambda b: Packet(eio_packet.MESSAGE, b), st.binary(max_size=40)),
    st.sampled_from([Packet(eio_packet.PING), Packet(eio_packet.PONG, "probe"), Packet(eio_packet.NOOP)]),
)


def _norm(packets: list[object]) -> list[tuple[int, object]]:
    out = []
    for p in packets:
        data = p.data  # type: ignore[attr-defined]
        if isinstance(data, str) and data.startswith("2["):
            data = json.loads(data[1:])
        out.append((p.packet_type, data or None))  # type: ignore[attr-defined]
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(_packets, max_size=8), st.sampled_from(list(TextFlavor)))
def test_text_payload_round_trip(packets: list[object], flavor: TextFlavor) -> None:
    encoded = eio3.encode_text_payload(packets, flavor)
    decoded, _ = eio3.decode_text_payload(encoded, flavor)
    assert _norm(decoded) == _norm(packets)


@settings(max_examples=60, deadline=None)
@given(st.lists(_packets, max_size=8))
def test_binary_payload_round_trip(packets: list[object]) -> None:
    if not packets:
        return
    assert _norm(eio3.decode_binary_payload(eio3.encode_binary_payload(packets))) == _norm(packets)

"""Small files of each uploadable type, built from their formats' signatures, and some that must be refused."""

from __future__ import annotations

import struct
import zlib


def png() -> bytes:
    """A real 1x1 PNG (what a browser can draw)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _pad(head: bytes, size: int = 64) -> bytes:
    return head + bytes(range(256))[: max(0, size - len(head))]


# name -> (bytes, the MIME type it is served with)
ALLOWED: dict[str, tuple[bytes, str]] = {
    "photo.png": (png(), "image/png"),
    "photo.jpg": (_pad(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01"), "image/jpeg"),
    "anim.gif": (_pad(b"GIF89a\x01\x00\x01\x00"), "image/gif"),
    "photo.webp": (_pad(b"RIFF\x24\x00\x00\x00WEBPVP8 "), "image/webp"),
    "song.mp3": (_pad(b"ID3\x04\x00\x00\x00\x00\x00\x00"), "audio/mpeg"),
    "voice.ogg": (_pad(b"OggS\x00\x02\x00\x00"), "audio/ogg"),
    "voice.wav": (_pad(b"RIFF\x24\x00\x00\x00WAVEfmt "), "audio/wav"),
    "voice.m4a": (_pad(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom"), "audio/mp4"),
    "voice.aac": (_pad(b"\xff\xf1\x50\x80\x02\x1f\xfc"), "audio/aac"),
    "clip.mp4": (_pad(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"), "video/mp4"),
    "clip.webm": (
        _pad(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"),
        "video/webm",
    ),
    "paper.pdf": (_pad(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), "application/pdf"),
    "notes.txt": ("Grüße, plain text\n".encode(), "text/plain; charset=utf-8"),
}
ZIP = _pad(b"PK\x03\x04\x14\x00\x00\x00\x08\x00")
ELF = _pad(b"\x7fELF\x02\x01\x01\x00")
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'

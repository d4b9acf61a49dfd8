"""What may be uploaded is read from the bytes: each allowed type is found, the rest are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from eliza_messaging.messaging.errors import UnsupportedMediaType, UploadTooLarge
from eliza_messaging.messaging.media import ALLOWED, Upload, served_type
from eliza_messaging.store.media_files import MediaFiles
from tests.support import media_samples

OWNER = "0b5c2c2e-8d3a-4a59-9c62-3f1f2f0d5e11"


@pytest.mark.parametrize("name", sorted(media_samples.ALLOWED))
def test_each_allowed_type_is_found_in_its_bytes(tmp_path: Path, name: str) -> None:
    data, served_as = media_samples.ALLOWED[name]
    upload = Upload(MediaFiles(tmp_path), "channels", OWNER, 1000)
    upload.write(data)
    stored = upload.finish(name)
    assert stored.media_type.mime == served_as
    assert served_type(stored.filename) == stored.media_type
    assert (tmp_path / "channels" / OWNER / stored.filename).read_bytes() == data


@pytest.mark.parametrize("data", [media_samples.ZIP, media_samples.ELF, b"\xff\xfe\x00\x01"])
def test_other_bytes_are_refused_with_the_list(tmp_path: Path, data: bytes) -> None:
    upload = Upload(MediaFiles(tmp_path), "channels", OWNER, 1000)
    with pytest.raises(UnsupportedMediaType) as refused:
        upload.write(data)
        upload.finish("x.png")
    assert refused.value.allowed == ALLOWED
    upload.discard()
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_the_cap_counts_every_chunk(tmp_path: Path) -> None:
    upload = Upload(MediaFiles(tmp_path), "channels", OWNER, 10)
    upload.write(b"12345")
    upload.write(b"67890")
    with pytest.raises(UploadTooLarge) as refused:
        upload.write(b"!")
    assert "10 bytes" in refused.value.message


def test_names_we_did_not_write_are_never_found(tmp_path: Path) -> None:
    files = MediaFiles(tmp_path)
    (tmp_path / "secret.txt").write_text("no")
    for kind, owner, name in (
        ("channels", OWNER, "../../secret.txt"),
        ("..", OWNER, "secret.txt"),
        ("channels", "..", "secret.txt"),
        ("channels", OWNER, "x" * 32 + ".txt/../../../secret.txt"),
    ):
        assert files.locate(kind, owner, name) is None

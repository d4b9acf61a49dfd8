"""Media uploads kept in an S3-compatible bucket: a real server configured with ELIZA_MEDIA_S3_* against
moto's S3 server on 127.0.0.1 (a hosted S3 cannot run here; moto speaks the same HTTP API). The
upload routes and refusals are the same as on disk; the object lands in the bucket, nothing stays on
local disk, it is served back through this server with the same headers, and a bucket that is
missing, refuses us or cannot be reached is a clear 503 rather than a crash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import new_id, service_missing
from tests.support import media_samples
from tests.support.server import ServerProcess, free_port

API = "/api/messaging"
BUCKET = "eliza-media"
PREFIX = "uploads/"
ACCESS_KEY = "AKIAELIZATESTKEY0001"
SECRET_KEY = "a-secret-key-that-must-never-appear-in-a-log-or-an-answer"
CAP = 400_000


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in a thread on a loopback port, with the bucket created."""
    try:
        import boto3  # noqa: F401  (the tests' own client, below)
        from moto.server import ThreadedMotoServer
    except ImportError:
        service_missing("moto", "moto and flask are not installed: pip install -e '.[test]' (the test extra has them)")
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    moto.stop()


def client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def s3_env(endpoint: str, **extra: str) -> dict[str, str]:
    return {
        "ELIZA_MEDIA_S3_BUCKET": BUCKET,
        "ELIZA_MEDIA_S3_ENDPOINT": endpoint,
        "ELIZA_MEDIA_S3_REGION": "us-east-1",
        "ELIZA_MEDIA_S3_PREFIX": PREFIX,
        "ELIZA_MEDIA_S3_ACCESS_KEY": ACCESS_KEY,
        "ELIZA_MEDIA_S3_SECRET_KEY": SECRET_KEY,
        "ELIZA_UPLOAD_RATE": "0",
        "ELIZA_UPLOAD_MAX_BYTES": str(CAP),
        **extra,
    }


def without_aws_credentials(env: dict[str, str]) -> dict[str, str]:
    """No credential from anywhere: no keys, no profile files, no instance metadata."""
    return {
        **env,
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
        "AWS_CONFIG_FILE": "/nonexistent/config",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("s3-uploads") / "data", env=s3_env(s3_endpoint)).start()
    yield proc
    proc.stop()


def upload(url: str, channel: str, name: str, data: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}{API}/channels/{channel}/upload-media",
        files={"file": (name, data, "application/octet-stream")},
        timeout=30,
    )


def keys(endpoint: str) -> set[str]:
    listed = client(endpoint).list_objects_v2(Bucket=BUCKET)
    return {item["Key"] for item in listed.get("Contents", [])}


def local_files(proc: ServerProcess) -> list[str]:
    uploads = proc.data_dir / "uploads"
    return [str(p) for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


def test_every_allowed_type_goes_to_the_bucket_and_is_served_back_with_the_same_headers(
    server: ServerProcess, s3_endpoint: str
) -> None:
    channel = new_id()
    for name, (data, served_as) in media_samples.ALLOWED.items():
        answer = upload(server.url, channel, name, data)
        assert answer.status_code == 200, (name, answer.text)
        media = answer.json()["data"]
        assert media["url"] == f"/media/uploads/channels/{channel}/{media['filename']}"
        stored = client(s3_endpoint).get_object(Bucket=BUCKET, Key=f"{PREFIX}channels/{channel}/{media['filename']}")
        assert stored["Body"].read() == data
        assert stored["ContentType"] == served_as
        served = httpx.get(server.url + media["url"])
        assert served.status_code == 200 and served.content == data, name
        assert served.headers["content-type"] == served_as
        assert served.headers["content-length"] == str(len(data))
        assert served.headers["x-content-type-options"] == "nosniff"
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
        expected = "attachment" if name.endswith(".pdf") else "inline"
        assert served.headers["content-disposition"] == f'{expected}; filename="{media["filename"]}"', name
    assert local_files(server) == []  # spooled, sent, and the spool removed: nothing kept on disk


def test_a_file_of_many_chunks_streams_both_ways(server: ServerProcess) -> None:
    data = ("a line of text, streamed through\n" * 10_000).encode()  # 330 KB: several reads each way
    answer = upload(server.url, new_id(), "long.txt", data)
    assert answer.status_code == 200, answer.text
    served = httpx.get(server.url + answer.json()["data"]["url"])
    assert served.content == data and served.headers["content-type"] == "text/plain; charset=utf-8"


def test_agent_uploads_go_to_the_bucket_too(server: ServerProcess, s3_endpoint: str) -> None:
    eliza = next(
        a["id"] for a in httpx.get(f"{server.url}/api/agents").json()["data"]["agents"] if a["name"] == "Eliza"
    )
    answer = httpx.post(
        f"{server.url}/api/media/agents/{eliza}/upload",
        files={"file": ("face.png", media_samples.png(), "image/png")},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    media = answer.json()["data"]
    assert media["type"] == "image"
    assert f"{PREFIX}agents/{eliza.lower()}/{media['filename']}" in keys(s3_endpoint)
    assert httpx.get(server.url + media["url"]).content == media_samples.png()


def test_refusals_are_unchanged_and_put_nothing_in_the_bucket(server: ServerProcess, s3_endpoint: str) -> None:
    channel = new_id()
    before = keys(s3_endpoint)
    refused = upload(server.url, channel, "cat.png", media_samples.ZIP)
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "image/png" in refused.json()["error"]["allowed"]
    over = upload(server.url, channel, "big.txt", b"x" * (CAP + 1))
    assert over.status_code == 413 and f"{CAP} bytes" in over.json()["error"]["message"]
    assert upload(server.url, channel, "empty.txt", b"").status_code == 400
    at_cap = upload(server.url, channel, "cap.txt", b"x" * CAP)
    assert at_cap.status_code == 200 and at_cap.json()["data"]["size"] == CAP
    added = keys(s3_endpoint) - before
    assert added == {f"{PREFIX}channels/{channel}/{at_cap.json()['data']['filename']}"}
    assert local_files(server) == []


def test_names_not_in_the_bucket_or_not_ours_are_404(server: ServerProcess, s3_endpoint: str) -> None:
    channel = new_id()
    stored = upload(server.url, channel, "a.txt", b"hello").json()["data"]
    for path in (
        f"/media/uploads/channels/{channel}/{uuid.uuid4().hex}.txt",  # a name we could have written, never stored
        f"/media/uploads/channels/{new_id()}/{stored['filename']}",
        f"/media/uploads/channels/{channel}/..%2F..%2F{stored['filename']}",
        f"/media/uploads/secrets/{channel}/{stored['filename']}",
    ):
        assert httpx.get(server.url + path).status_code == 404, path


def test_credentials_come_from_the_aws_variables_when_ours_are_unset(
    s3_endpoint: str, server_factory: Callable[..., ServerProcess]
) -> None:
    env = without_aws_credentials(s3_env(s3_endpoint))
    del env["ELIZA_MEDIA_S3_ACCESS_KEY"], env["ELIZA_MEDIA_S3_SECRET_KEY"]
    none = server_factory(env)
    refused = upload(none.url, new_id(), "a.txt", b"no credentials")
    assert refused.status_code == 503, refused.text
    assert "NoCredentialsError" in refused.json()["error"]["message"]
    aws = server_factory({**env, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    assert upload(aws.url, new_id(), "a.txt", b"from the AWS variables").status_code == 200


def test_a_missing_bucket_starts_the_server_and_uploads_get_a_clear_503(
    s3_endpoint: str, server_factory: Callable[..., ServerProcess]
) -> None:
    proc = server_factory(s3_env(s3_endpoint, ELIZA_MEDIA_S3_BUCKET="no-such-bucket"))
    assert httpx.get(f"{proc.url}/healthz").status_code == 200  # messaging goes on without media
    assert "media_store_unreachable" in proc.logs()
    refused = upload(proc.url, new_id(), "a.txt", b"nowhere to go")
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "STORAGE_ERROR"
    assert "bucket 'no-such-bucket'" in error["message"] and "does not exist" in error["message"]
    missing = httpx.get(f"{proc.url}/media/uploads/channels/{new_id()}/{uuid.uuid4().hex}.txt")
    assert missing.status_code == 503  # the bucket cannot say: not a 404 that would be cached as gone
    assert local_files(proc) == []  # the spool is removed on failure too
    assert SECRET_KEY not in proc.logs() and SECRET_KEY not in refused.text


def test_an_unreachable_endpoint_is_a_clear_503_not_a_hang(
    s3_endpoint: str, server_factory: Callable[..., ServerProcess]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = server_factory(s3_env(closed))
    assert httpx.get(f"{proc.url}/healthz").status_code == 200
    refused = upload(proc.url, new_id(), "a.txt", b"nobody home")
    assert refused.status_code == 503, refused.text
    message = refused.json()["error"]["message"]
    assert "cannot be reached" in message and closed in message and "ELIZA_MEDIA_S3_ENDPOINT" in message
    assert local_files(proc) == []
    assert SECRET_KEY not in proc.logs() and SECRET_KEY not in refused.text


def test_half_the_keys_is_refused_at_start_with_what_to_set(
    s3_endpoint: str, server_factory: Callable[..., ServerProcess]
) -> None:
    env = s3_env(s3_endpoint)
    del env["ELIZA_MEDIA_S3_SECRET_KEY"]
    with pytest.raises(RuntimeError) as failed:
        server_factory(env)
    assert "ELIZA_MEDIA_S3_SECRET_KEY" in str(failed.value)


def test_a_configuration_the_client_cannot_use_stops_the_start_with_what_to_fix(
    s3_endpoint: str, server_factory: Callable[..., ServerProcess]
) -> None:
    with pytest.raises(RuntimeError) as failed:
        server_factory(s3_env(s3_endpoint, AWS_PROFILE="no-such-profile"))
    assert "cannot be configured: ProfileNotFound" in str(failed.value)
    assert SECRET_KEY not in str(failed.value)

"""Uploaded files in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, ...), when one is configured.

An upload is spooled to a local file first (``MediaFiles.incoming``: bounded, since the domain stops
writing at the size cap, and checked for its type while it is written), then sent in one PUT and
the spool removed; a bucket never holds a refused or half-sent file. Reading back streams the
object through this server (``open``) rather than redirecting to a presigned URL, so every file
keeps this server's headers (its type, ``nosniff``, the sandboxing CSP, ``Content-Disposition``),
which a bucket's own answers would not carry. Keys are ``<prefix><kind>/<owner>/<name>``, built
from the same checked parts as the local paths. Credentials come from the settings or AWS's own
chain (``AWS_ACCESS_KEY_ID``, profiles, instance roles); they are never logged or put in an error.
The client library (aiobotocore) is the optional extra ``eliza-messaging[s3]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .media_files import MediaFiles, MediaObject, MediaUnavailable, new_name, valid_place

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True, slots=True)
class S3Options:
    bucket: str
    endpoint: str | None = None  # None: AWS's own endpoint for the region
    region: str | None = None
    access_key: str | None = None  # None: AWS's credential chain
    secret_key: str | None = None
    prefix: str = ""
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    max_connections: int = 50  # files being sent or served at once; more wait for a free connection

    def __repr__(self) -> str:  # never the secret
        return f"S3Options(bucket={self.bucket!r}, endpoint={self.endpoint!r}, region={self.region!r})"

    @property
    def where(self) -> str:
        return f"bucket '{self.bucket}'" + (f" at {self.endpoint}" if self.endpoint else "")


class S3MediaStore:
    """A ``MediaStore`` on S3: one client for the server's life, opened by ``start``."""

    def __init__(self, spool: MediaFiles, options: S3Options) -> None:
        self.spool = spool
        self.options = options
        self._client: Any = None
        self._stack = AsyncExitStack()
        self.reachable: bool | None = None  # what the check at start found

    async def start(self) -> None:
        """Open the client and check the bucket once.

        A configuration the client cannot use (a profile that does not exist, an endpoint that is no
        URL) stops the start with what to fix; a bucket that cannot be reached now may be reachable
        later, so that is logged clearly and uploads answer 503 until it is.
        """
        try:
            from aiobotocore.config import AioConfig
            from aiobotocore.session import get_session
        except ImportError as exc:  # pragma: no cover - the extra is installed wherever S3 is configured
            raise RuntimeError(
                "ELIZA_MEDIA_S3_BUCKET is set but the S3 client is not installed:"
                " pip install 'eliza-messaging[s3]' (or unset ELIZA_MEDIA_S3_BUCKET to keep uploads on disk)."
            ) from exc
        self.spool.clear_incoming()
        o = self.options
        config = AioConfig(
            connect_timeout=o.connect_timeout_s,
            read_timeout=o.read_timeout_s,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=o.max_connections,
            s3={"addressing_style": "path"} if o.endpoint else None,
        )
        credentials = {"aws_access_key_id": o.access_key, "aws_secret_access_key": o.secret_key} if o.access_key else {}
        from botocore.exceptions import BotoCoreError

        try:
            self._client = await self._stack.enter_async_context(
                get_session().create_client(
                    "s3", endpoint_url=o.endpoint, region_name=o.region, config=config, **credentials
                )
            )
        except (BotoCoreError, ValueError) as exc:  # a configuration that cannot work: say so and stop
            raise RuntimeError(
                f"Media storage ({o.where}) cannot be configured: {type(exc).__name__}: {exc}."
                " Check ELIZA_MEDIA_S3_ENDPOINT/ELIZA_MEDIA_S3_REGION and AWS_PROFILE/AWS_CONFIG_FILE."
            ) from None
        try:
            await self._call("head_bucket", Bucket=o.bucket)
            self.reachable = True
            log.info("media_store_s3", extra={"bucket": o.bucket, "endpoint": o.endpoint or "aws"})
        except MediaUnavailable as exc:
            self.reachable = False
            log.error("media_store_unreachable", extra={"reason": str(exc)})

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None

    def incoming(self) -> tuple[Path, BinaryIO]:
        return self.spool.incoming()

    def discard(self, incoming: Path) -> None:
        self.spool.discard(incoming)

    async def keep(self, incoming: Path, kind: str, owner: str, extension: str, content_type: str) -> str:
        name = new_name(extension)
        if not valid_place(kind, owner, name):
            raise ValueError(f"not a valid place for an upload: {kind}/{owner}/{name}")
        try:
            with incoming.open("rb") as body:
                await self._call(
                    "put_object",
                    Bucket=self.options.bucket,
                    Key=self._key(kind, owner, name),
                    Body=body,
                    ContentLength=os.fstat(body.fileno()).st_size,
                    ContentType=content_type,
                )
        finally:
            self.spool.discard(incoming)
        return name

    async def open(self, kind: str, owner: str, name: str) -> MediaObject | None:
        if not valid_place(kind, owner, name):
            return None
        try:
            answer = await self._call("get_object", Bucket=self.options.bucket, Key=self._key(kind, owner, name))
        except _Missing:
            return None
        return MediaObject(int(answer["ContentLength"]), chunks=_stream(answer["Body"]))

    def _key(self, kind: str, owner: str, name: str) -> str:
        return f"{self.options.prefix}{kind}/{owner.lower()}/{name}"

    async def _call(self, operation: str, **params: Any) -> Any:
        """One S3 call; what went wrong becomes ``MediaUnavailable`` naming the bucket and the cause."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            raise MediaUnavailable(
                f"Media storage ({self.options.where}) is not open: the server is starting or stopping."
            )
        try:
            return await getattr(self._client, operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            if operation == "get_object" and code in _MISSING:
                raise _Missing from None
            raise MediaUnavailable(
                f"Media storage ({self.options.where}) refused {operation}: {code}."
                + _HINTS.get(code, " Check ELIZA_MEDIA_S3_* and the bucket's permissions.")
            ) from None
        except (BotoCoreError, OSError) as exc:
            raise MediaUnavailable(
                f"Media storage ({self.options.where}) cannot be reached: {type(exc).__name__}."
                " Check ELIZA_MEDIA_S3_ENDPOINT and that the storage is up."
            ) from None


class _Missing(Exception):
    pass


_HINTS = {
    "NoSuchBucket": " The bucket does not exist: create it or fix ELIZA_MEDIA_S3_BUCKET.",
    "404": " The bucket does not exist: create it or fix ELIZA_MEDIA_S3_BUCKET.",
    "AccessDenied": " The credentials may not use this bucket.",
    "403": " The credentials may not use this bucket.",
    "InvalidAccessKeyId": " The access key is not known: check ELIZA_MEDIA_S3_ACCESS_KEY or AWS_ACCESS_KEY_ID.",
    "SignatureDoesNotMatch": " The secret key is wrong: check ELIZA_MEDIA_S3_SECRET_KEY or AWS_SECRET_ACCESS_KEY.",
}


async def _stream(body: Any) -> AsyncIterator[bytes]:
    """The object's bytes as they arrive; the connection is released however the reader stops."""
    try:
        while chunk := await body.read(CHUNK):
            yield chunk
    finally:
        with contextlib.suppress(Exception):
            body.close()

"""The baselines for the benchmarks: an ASGI app under uvicorn doing the least an S3 server can.

PUT keeps the body, GET returns it (so the benchmark verifies bytes against it too), multipart
uploads keep their parts and a completed upload is read back part after part; anything else is
200. No auth, no storage engine: what is left is the cost of uvicorn and the HTTP exchange,
i.e. the ceiling of any S3 server written on this stack.

A plain ASGI callable, as s3front's S3 entry point is (s3front.app.s3_entry), with Starlette's
Response classes for the answers. Until session 12 it was a Starlette app with a catch-all
route, whose router, middlewares and Request object cost more per request than the whole
exchange here: a floor that s3front itself does not stand on (measured with one worker, 4 KiB
GETs: 0.021 ms of server CPU per request for a bare ASGI app under uvicorn).

With NOOP_HASH=1 (compare.py's `noop-hash`) a PUT or UploadPart also does the hashing no S3
server can skip: the SHA-256 of the body, checked against the signed x-amz-content-sha256, and
its MD5, which is the ETag every S3 client expects. (rclone and SeaweedFS do skip the first: they
store a body that does not match its signed hash; bench/peer_promises.py.) s3front computes the
same two digests with the same hashlib (the MD5 in a thread, the SHA-256 as the pieces arrive)
and on top of that authenticates, stores the blocks and their ids and writes the object row.

With NOOP_HASH=cas (`noop-cas`) it also computes what s3front's content addressing adds: the
SHA-256 of every 1 MiB block of a body longer than one block (a body of one block takes the
verified payload hash as its id, in s3front too). That is all the hashing s3front's design does on
a PUT, on this stack, with nothing stored: the floor under its multipart upload row.

Every worker takes s3front's malloc settings (s3front.memory), as s3front's own do: a bare ASGI
app under the same uvicorn spent 0.73-0.86 ms of CPU per MiB received with glibc's defaults and
0.47-0.51 with them (one worker, 1 MiB PUTs, 2026-12-05).

Run: python bench/noop_app.py PORT   (compare.py runs it under `uvicorn --workers N`)
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import uvicorn
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from s3front.memory import keep_freed_memory

_objects: dict[str, bytes] = {}
_EMPTY_LIST = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Owner><ID>noop</ID><DisplayName>noop</DisplayName></Owner><Buckets/>"
    b"</ListAllMyBucketsResult>"
)
_HASH = os.environ.get("NOOP_HASH", "") in ("1", "cas")
_CAS = os.environ.get("NOOP_HASH") == "cas"
_BLOCK = 1 << 20  # s3front's block size
keep_freed_memory()  # at import: each `uvicorn --workers` process imports the app
# With several worker processes (compare.py), bodies go to files in a shared directory
# (on tmpfs) so that any worker can answer the GET; with one, a dict will do.
_DIR = os.environ.get("NOOP_DIR", "")
# A completed multipart upload is a file listing its part files (they are not copied).
_PARTS_MAGIC = b"noop-parts\n"
_PART_NUMBER = re.compile(r"<PartNumber>(\d+)</PartNumber>")


def _file(name: str) -> str:
    return os.path.join(_DIR, name.strip("/").replace("/", "_"))


def _get(path: str) -> bytes | None:  # tmpfs: a read takes microseconds
    if not _DIR:
        return _objects.get(path)
    try:
        with open(_file(path), "rb") as f:
            return f.read()
    except OSError:
        return None


def _put(name: str, chunks: list[bytes]) -> None:
    if _DIR:
        with open(_file(name), "wb") as f:
            f.writelines(chunks)
    else:
        _objects[name] = b"".join(chunks)


def _exists(name: str) -> bool:
    return os.path.exists(_file(name)) if _DIR else name in _objects


def _size(name: str) -> int:
    return os.path.getsize(_file(name)) if _DIR else len(_objects[name])


def _digests(chunks: list[bytes]) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    for c in chunks:
        md5.update(c)
        sha.update(c)
    size = sum(map(len, chunks))
    if _CAS and size > _BLOCK:  # the block ids (a one-block body's id is the payload hash)
        whole = memoryview(b"".join(chunks))
        for offset in range(0, size, _BLOCK):
            hashlib.sha256(whole[offset : offset + _BLOCK]).digest()
    return md5.hexdigest(), sha.hexdigest()


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _store(scope: Scope, receive: Receive, name: str) -> Response:
    chunks = [chunk async for chunk in _body(receive)]
    etag = "noop"
    if _HASH:
        # As s3front does: small bodies on the loop (a thread hop costs more than hashing
        # 4 KiB), large ones in a thread (hashlib lets go of the GIL; the loop runs on).
        if sum(map(len, chunks)) < 64 * 1024:
            etag, sha = _digests(chunks)
        else:
            etag, sha = await asyncio.to_thread(_digests, chunks)
        if sha != _header(scope, b"x-amz-content-sha256"):
            return Response(b"XAmzContentSHA256Mismatch", status_code=400)
    _put(name, chunks)
    return Response(status_code=200, headers={"etag": f'"{etag}"'})


async def _read_parts(names: list[str]) -> AsyncIterator[bytes]:
    for name in names:
        if not _DIR:
            yield _objects[name]
            continue
        with open(_file(name), "rb") as f:  # noqa: ASYNC230 - tmpfs: takes microseconds
            while piece := f.read(1 << 20):
                yield piece


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    response = await handle(scope, receive)
    await response(scope, receive, send)


async def handle(scope: Scope, receive: Receive) -> Response:
    path, method = scope["path"], scope["method"]
    query = scope["query_string"].decode("latin-1")
    params = dict(parse_qsl(query, keep_blank_values=True))
    if method == "POST" and "uploads" in params:
        upload_id = secrets.token_hex(8)
        started = f"<InitiateMultipartUploadResult><UploadId>{upload_id}</UploadId>"
        return Response((started + "</InitiateMultipartUploadResult>").encode())
    if method == "POST" and "uploadId" in params:
        # The parts the document names, in its order (trusted: a baseline, not a server).
        document = b"".join([chunk async for chunk in _body(receive)])
        numbers = _PART_NUMBER.findall(document.decode())
        names = [f"{params['uploadId']}.{n}" for n in numbers]
        if not all(_exists(n) for n in names):
            return Response(b"InvalidPart", status_code=400)
        _put(path, [_PARTS_MAGIC, "\n".join(names).encode()])
        done = b"<CompleteMultipartUploadResult><ETag>noop</ETag></CompleteMultipartUploadResult>"
        return Response(done, media_type="application/xml")
    if method == "PUT":
        if "uploadId" in params:
            return await _store(scope, receive, f"{params['uploadId']}.{params['partNumber']}")
        return await _store(scope, receive, path)
    if method in ("GET", "HEAD"):
        if path in ("/-/readyz", "/-/healthz"):
            return Response(b"ok")
        if path == "/":  # ListBuckets, which the benchmark's boto3 clients warm up with
            return Response(_EMPTY_LIST, media_type="application/xml")
        if query:  # ListObjectsV2 and the like: a fixed small document
            return Response(_EMPTY_LIST, media_type="application/xml")
        body = _get(path)
        if body is None:
            return Response(status_code=404)
        if body.startswith(_PARTS_MAGIC):
            names = body[len(_PARTS_MAGIC) :].decode().split("\n")
            size = sum(_size(n) for n in names)  # a length, not chunked framing: as S3 sends
            return StreamingResponse(
                _read_parts(names),
                media_type="application/octet-stream",
                headers={"content-length": str(size)},
            )
        return Response(body, media_type="application/octet-stream")
    return Response(status_code=200)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

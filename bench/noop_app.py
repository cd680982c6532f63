"""The baseline for bench.py: a Starlette app under uvicorn doing the least an object store can.

PUT keeps the body in a dict, GET returns it (so the benchmark can verify bytes against it too),
anything else is 200. No auth, no hashing, no storage: what is left is the cost of uvicorn,
Starlette and the HTTP exchange, i.e. the floor under any S3 server written on this stack.

Run: python bench/noop_app.py PORT
"""

from __future__ import annotations

import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_objects: dict[str, bytes] = {}
_EMPTY_LIST = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    b"<Owner><ID>noop</ID><DisplayName>noop</DisplayName></Owner><Buckets/>"
    b"</ListAllMyBucketsResult>"
)


# With several worker processes (compare.py), bodies go to files in a shared directory
# (on tmpfs) so that any worker can answer the GET; with one, a dict will do.
_DIR = os.environ.get("NOOP_DIR", "")


def _file(path: str) -> str:
    return os.path.join(_DIR, path.strip("/").replace("/", "_"))


def _get(path: str) -> bytes | None:  # tmpfs: a read takes microseconds
    if not _DIR:
        return _objects.get(path)
    try:
        with open(_file(path), "rb") as f:
            return f.read()
    except OSError:
        return None


async def handle(request: Request) -> Response:
    path = request.url.path
    if request.method == "PUT":
        chunks = [chunk async for chunk in request.stream()]
        if _DIR:
            with open(_file(path), "wb") as f:  # noqa: ASYNC230 - tmpfs: takes microseconds
                f.writelines(chunks)
        else:
            _objects[path] = b"".join(chunks)
        return Response(status_code=200, headers={"etag": '"noop"'})
    if request.method in ("GET", "HEAD"):
        if path in ("/-/readyz", "/-/healthz"):
            return Response(b"ok")
        if path == "/":  # ListBuckets, which the benchmark's boto3 clients warm up with
            return Response(_EMPTY_LIST, media_type="application/xml")
        if request.url.query:  # ListObjectsV2 and the like: a fixed small document
            return Response(_EMPTY_LIST, media_type="application/xml")
        body = _get(path)
        if body is None:
            return Response(status_code=404)
        return Response(body, media_type="application/octet-stream")
    return Response(status_code=200)


app = Starlette(
    routes=[Route("/{path:path}", handle, methods=["GET", "HEAD", "PUT", "POST", "DELETE"])]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

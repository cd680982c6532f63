"""Properties of the aws-chunked decoder (`s3front.auth.chunked`).

Valid encodings (unsigned and signed, with and without trailers) of random payloads, cut into
random pieces, decode to the payload; random mutations of valid encodings end in a decoded body
or an S3 error, never in another exception; the decoder buffers at most one framing line
whatever it is fed. (A call to `feed` always consumes its whole input, so it cannot hang.)
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3front.auth.chunked import MAX_LINE, ChunkedDecoder, ChunkSigner
from s3front.errors import S3Error

SIGNER = ChunkSigner(
    key=hashlib.sha256(b"test key").digest(),
    amz_date="20260101T000000Z",
    scope="20260101/us-east-1/s3/aws4_request",
    seed="a" * 64,
)
TRAILERS = {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha256": "x" * 44}


def encode(
    chunks: list[bytes],
    *,
    signed: bool,
    trailers: dict[str, str] | None,
    bare_lf_trailers: bool = False,
) -> bytes:
    out = bytearray()
    previous = SIGNER.seed
    for data in [*chunks, b""]:
        if signed:
            previous = SIGNER.chunk(previous, hashlib.sha256(data).hexdigest())
            out += f"{len(data):x};chunk-signature={previous}\r\n".encode()
        else:
            out += f"{len(data):x}\r\n".encode()
        if data:
            out += data + b"\r\n"
    if trailers is not None:
        eol = "\n" if bare_lf_trailers else "\r\n"
        for name, value in trailers.items():
            out += f"{name}:{value}{eol}".encode()
        if signed:
            canonical = "".join(f"{n}:{v}\n" for n, v in sorted(trailers.items()))
            sig = SIGNER.trailer(previous, hashlib.sha256(canonical.encode()).hexdigest())
            out += f"x-amz-trailer-signature:{sig}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def feed_in_pieces(decoder: ChunkedDecoder, body: bytes, cuts: list[int]) -> bytes:
    out = bytearray()
    points = sorted({c % (len(body) + 1) for c in cuts} | {0, len(body)})
    for a, b in itertools.pairwise(points):
        for piece in decoder.feed(body[a:b]):
            out += piece
        # Bounded buffering: only a partial framing line is ever held.
        assert len(decoder._buf) <= MAX_LINE
    decoder.finish()
    return bytes(out)


CHUNKS = st.lists(st.binary(min_size=1, max_size=200), max_size=6)
CUTS = st.lists(st.integers(0, 10_000), max_size=12)


@given(chunks=CHUNKS, cuts=CUTS, signed=st.booleans(), with_trailers=st.booleans())
def test_valid_encodings_decode_to_the_payload(
    chunks: list[bytes], cuts: list[int], signed: bool, with_trailers: bool
) -> None:
    trailers = TRAILERS if with_trailers else None
    body = encode(chunks, signed=signed, trailers=trailers)
    payload = b"".join(chunks)
    decoder = ChunkedDecoder(
        SIGNER if signed else None, trailers_allowed=with_trailers, decoded_length=len(payload)
    )
    assert feed_in_pieces(decoder, body, cuts) == payload
    assert decoder.done
    assert decoder.trailers == (trailers or {})


@given(chunks=CHUNKS, cuts=CUTS)
def test_unsigned_trailers_with_bare_lf_and_no_final_blank_line(
    chunks: list[bytes], cuts: list[int]
) -> None:
    body = encode(chunks, signed=False, trailers=TRAILERS, bare_lf_trailers=True)[:-2]
    decoder = ChunkedDecoder(None, trailers_allowed=True)
    assert feed_in_pieces(decoder, body, cuts) == b"".join(chunks)
    assert decoder.trailers == TRAILERS


MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]),
    st.integers(0, 10_000),
    st.binary(min_size=1, max_size=6),
)


def mutate(body: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(body)
    for kind, at, junk in mutations:
        i = at % (len(data) + 1)
        if kind == "flip" and i < len(data):
            data[i] ^= junk[0] or 1
        elif kind == "insert":
            data[i:i] = junk
        elif kind == "delete":
            del data[i : i + len(junk)]
        elif kind == "truncate":
            del data[i:]
        elif kind == "dup":
            data[i:i] = data[i : i + 40]
    return bytes(data)


@given(
    chunks=CHUNKS,
    cuts=CUTS,
    signed=st.booleans(),
    with_trailers=st.booleans(),
    mutations=st.lists(MUTATION, min_size=1, max_size=3),
    declared=st.booleans(),
)
@settings(max_examples=300)
def test_mutations_only_s3_errors(
    chunks: list[bytes],
    cuts: list[int],
    signed: bool,
    with_trailers: bool,
    mutations: list[tuple[str, int, bytes]],
    declared: bool,
) -> None:
    body = mutate(
        encode(chunks, signed=signed, trailers=TRAILERS if with_trailers else None), mutations
    )
    payload = b"".join(chunks)
    decoder = ChunkedDecoder(
        SIGNER if signed else None,
        trailers_allowed=with_trailers,
        decoded_length=len(payload) if declared else None,
    )
    try:
        out = feed_in_pieces(decoder, body, cuts)
    except S3Error:
        return
    # Accepted: for signed bodies only the exact payload can pass the chunk signatures.
    if signed:
        assert out == payload


@given(
    garbage=st.binary(max_size=600),
    cuts=CUTS,
    signed=st.booleans(),
    with_trailers=st.booleans(),
)
def test_random_bytes_only_s3_errors(
    garbage: bytes, cuts: list[int], signed: bool, with_trailers: bool
) -> None:
    decoder = ChunkedDecoder(SIGNER if signed else None, trailers_allowed=with_trailers)
    with contextlib.suppress(S3Error):
        feed_in_pieces(decoder, garbage, cuts)


@pytest.mark.parametrize("line", [b"1" * (MAX_LINE + 1), b"a;" + b"x" * MAX_LINE])
def test_endless_size_line_is_refused_with_bounded_buffer(line: bytes) -> None:
    decoder = ChunkedDecoder(None, trailers_allowed=False)
    with pytest.raises(S3Error):
        for i in range(0, len(line), 7):
            decoder.feed(line[i : i + 7])
            assert len(decoder._buf) <= MAX_LINE


def test_oversized_chunk_size_is_refused() -> None:
    decoder = ChunkedDecoder(None, trailers_allowed=False, decoded_length=10)
    with pytest.raises(S3Error) as info:
        decoder.feed(b"ffffffffffffffff\r\n")
    assert info.value.code == "IncompleteBody"

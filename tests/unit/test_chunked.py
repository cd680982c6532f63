"""The aws-chunked decoder: framing, signature chains, trailers, bounds.

Signed streams are built with the chunk signatures of the AWS chunked-upload example (verified
against the published values in test_sigv4.py) and, for trailers, the same pure functions.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from s3front import errors
from s3front.auth import sigv4
from s3front.auth.chunked import MAX_LINE, ChunkedDecoder, ChunkSigner

SIGNER = ChunkSigner(
    key=sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"
    ),
    amz_date="20130524T000000Z",
    scope="20130524/us-east-1/s3/aws4_request",
    seed="4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
)


def signed_stream(
    chunks: list[bytes], trailers: list[tuple[str, str]] | None = None, *, sign_trailer: bool = True
) -> bytes:
    out = bytearray()
    previous = SIGNER.seed
    for data in [*chunks, b""]:
        previous = SIGNER.chunk(previous, hashlib.sha256(data).hexdigest())
        out += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data
        if data:
            out += b"\r\n"
    if trailers is not None:
        canonical = "".join(f"{n}:{v}\n" for n, v in trailers)
        for n, v in trailers:
            out += f"{n}:{v}\r\n".encode()
        if sign_trailer:
            sig = SIGNER.trailer(previous, hashlib.sha256(canonical.encode()).hexdigest())
            out += f"x-amz-trailer-signature:{sig}\r\n".encode()
    return bytes(out + b"\r\n")


def unsigned_stream(chunks: list[bytes], trailers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for data in chunks:
        out += f"{len(data):x}\r\n".encode() + data + b"\r\n"
    out += b"0\r\n"
    for n, v in trailers:
        out += f"{n}:{v}\r\n".encode()
    return bytes(out + b"\r\n")


def decode(decoder: ChunkedDecoder, stream: bytes, piece: int) -> bytes:
    out = bytearray()
    for i in range(0, len(stream), piece):
        for data in decoder.feed(stream[i : i + piece]):
            assert len(data) <= piece  # data is handed on as it arrives, never accumulated
            out += data
    decoder.finish()
    return bytes(out)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


PAYLOAD = [b"hello world " * 700, b"x" * 8192, b"tail"]
DATA = b"".join(PAYLOAD)
CRC = [("x-amz-checksum-crc32", crc32_b64(DATA))]


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 64, 8191, 10**6])
def test_signed_stream_at_every_split(piece: int) -> None:
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=False, decoded_length=len(DATA))
    assert decode(decoder, signed_stream(PAYLOAD), piece) == DATA
    assert decoder.trailers == {}


def test_signed_stream_split_at_every_single_offset() -> None:
    stream = signed_stream([b"abc", b"defgh"])
    for cut in range(len(stream) + 1):
        decoder = ChunkedDecoder(SIGNER, trailers_allowed=False, decoded_length=8)
        out = b"".join(decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]))
        decoder.finish()
        assert out == b"abcdefgh", cut


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_signed_stream_with_signed_trailer(piece: int) -> None:
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=True, decoded_length=len(DATA))
    assert decode(decoder, signed_stream(PAYLOAD, CRC), piece) == DATA
    assert decoder.trailers == dict(CRC)


@pytest.mark.parametrize("piece", [1, 3, 4096])
def test_unsigned_stream_with_trailer(piece: int) -> None:
    decoder = ChunkedDecoder(None, trailers_allowed=True, decoded_length=len(DATA))
    stream = unsigned_stream(PAYLOAD, [("X-Amz-Checksum-CRC32", CRC[0][1])])
    assert decode(decoder, stream, piece) == DATA
    assert decoder.trailers == dict(CRC)  # names lower-cased


def test_botocore_aws_chunked_wrapper_output_decodes() -> None:
    import io

    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

    wrapper = AwsChunkedWrapper(
        io.BytesIO(DATA), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32",
        chunk_size=5000,
    )  # fmt: skip
    decoder = ChunkedDecoder(None, trailers_allowed=True, decoded_length=len(DATA))
    assert decode(decoder, wrapper.read(), 333) == DATA
    assert decoder.trailers == dict(CRC)


def test_unsigned_trailer_without_final_blank_line_is_accepted() -> None:
    stream = unsigned_stream([b"abc"], CRC)[:-2]
    decoder = ChunkedDecoder(None, trailers_allowed=True, decoded_length=3)
    assert decode(decoder, stream, 10) == b"abc"
    assert decoder.trailers == dict(CRC)


def _tamper_chunk_sig(stream: bytes) -> bytes:
    i = stream.index(b"chunk-signature=") + len(b"chunk-signature=")
    return stream[:i] + (b"0" if stream[i : i + 1] != b"0" else b"1") + stream[i + 1 :]


def _tamper_data(stream: bytes) -> bytes:
    return stream.replace(b"tail", b"tall")


def _tamper_trailer_value(stream: bytes) -> bytes:
    return stream.replace(CRC[0][1].encode(), b"AAAAAA==")


def _tamper_trailer_sig(stream: bytes) -> bytes:
    i = stream.index(b"x-amz-trailer-signature:") + len(b"x-amz-trailer-signature:")
    return stream[:i] + (b"0" if stream[i : i + 1] != b"0" else b"1") + stream[i + 1 :]


@pytest.mark.parametrize(
    "tamper", [_tamper_chunk_sig, _tamper_data, _tamper_trailer_value, _tamper_trailer_sig]
)
def test_tampered_signed_stream_fails(tamper: object) -> None:
    stream = tamper(signed_stream(PAYLOAD, CRC))  # type: ignore[operator]
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=True, decoded_length=len(DATA))
    with pytest.raises(errors.SignatureDoesNotMatch):
        decode(decoder, stream, 1000)


def test_signed_trailer_missing_its_signature_fails() -> None:
    stream = signed_stream(PAYLOAD, CRC, sign_trailer=False)
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=True, decoded_length=len(DATA))
    with pytest.raises(errors.InvalidRequest):
        decode(decoder, stream, 1000)


def test_chunks_reordered_break_the_chain() -> None:
    a = signed_stream([b"first", b"second"])
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=False)
    first_end = a.index(b"first\r\n") + len(b"first\r\n")
    second_end = a.index(b"second\r\n") + len(b"second\r\n")
    swapped = a[first_end:second_end] + a[:first_end] + a[second_end:]
    with pytest.raises(errors.SignatureDoesNotMatch):
        decode(decoder, swapped, 1000)


# Cutting exactly the final CRLF is the accepted "no blank line after the trailers" leniency.
@pytest.mark.parametrize("cut", [1, 3, 10, 100, 5000])
def test_truncated_stream_is_incomplete(cut: int) -> None:
    stream = signed_stream(PAYLOAD)
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=False, decoded_length=len(DATA))
    with pytest.raises(errors.IncompleteBody):
        decode(decoder, stream[:-cut], 1000)


@pytest.mark.parametrize("declared", [len(DATA) - 1, len(DATA) + 1])
def test_decoded_length_must_match(declared: int) -> None:
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=False, decoded_length=declared)
    with pytest.raises(errors.IncompleteBody):
        decode(decoder, signed_stream(PAYLOAD), 1000)


SIG = "a" * 64


@pytest.mark.parametrize(
    ("signed", "stream"),
    [
        (False, b"zz\r\nab\r\n0\r\n\r\n"),  # non-hex size
        (False, b"-1\r\n"),
        (False, b"\r\n"),  # empty size
        (False, b"1" * 17 + b"\r\n"),  # absurdly long size
        (False, b"3\r\nabcd\r\n0\r\n\r\n"),  # more data than declared
        (False, b"3\nabc\r\n0\r\n\r\n"),  # bare LF on a size line
        (False, b"3;chunk-signature=" + SIG.encode() + b"\r\nabc\r\n"),  # unexpected extension
        (False, b"0\r\n\r\nextra"),  # data after the end
        (False, b"0\r\nnot a header\r\n\r\n"),
        (True, b"3\r\nabc\r\n"),  # missing chunk signature
        (True, b"3;chunk-signature=xyz\r\nabc\r\n"),  # malformed signature
        (True, b"3;other=1\r\nabc\r\n"),
    ],
)
def test_malformed_framing_is_invalid_request(signed: bool, stream: bytes) -> None:
    decoder = ChunkedDecoder(SIGNER if signed else None, trailers_allowed=True)
    with pytest.raises(errors.InvalidRequest):
        decode(decoder, stream, 3)


def test_trailers_are_refused_when_not_announced() -> None:
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=False)
    stream = signed_stream([b"abc"], CRC, sign_trailer=False)
    with pytest.raises(errors.InvalidRequest):
        decode(decoder, stream, 100)


@pytest.mark.parametrize("stream", [b"1" * (MAX_LINE + 10), b"3;" + b"x" * MAX_LINE + b"\r\n"])
def test_oversized_lines_fail_without_waiting_for_a_newline(stream: bytes) -> None:
    decoder = ChunkedDecoder(SIGNER, trailers_allowed=True)
    with pytest.raises(errors.InvalidRequest):
        for i in range(0, len(stream), 100):
            decoder.feed(stream[i : i + 100])


def test_oversized_trailer_line_fails() -> None:
    stream = b"0\r\nx-amz-checksum-crc32:" + b"A" * MAX_LINE + b"\r\n\r\n"
    decoder = ChunkedDecoder(None, trailers_allowed=True)
    with pytest.raises(errors.InvalidRequest):
        decode(decoder, stream, 50)


def test_a_large_chunk_is_streamed_not_buffered() -> None:
    # A 1 MiB chunk fed in 4 KiB pieces comes out in 4 KiB pieces before the chunk ends.
    data = b"z" * (1 << 20)
    stream = unsigned_stream([data], [])
    decoder = ChunkedDecoder(None, trailers_allowed=True, decoded_length=len(data))
    first = decoder.feed(stream[:4096])
    assert first and sum(map(len, first)) > 4000
    assert decode_rest(decoder, stream[4096:]) == data[sum(map(len, first)) :]


def decode_rest(decoder: ChunkedDecoder, stream: bytes) -> bytes:
    return decode(decoder, stream, 4096)

"""The aws-chunked body framing, decoded incrementally with bounded memory.

    chunk   = hex-size [";chunk-signature=" 64hex] CRLF data CRLF
    last    = "0" [";chunk-signature=" 64hex] CRLF
    trailer = *(name ":" value CRLF) ["x-amz-trailer-signature:" 64hex CRLF] CRLF

Signed variants (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]) chain each chunk's signature to
the previous one, starting from the request's seed signature; the unsigned variant
(STREAMING-UNSIGNED-PAYLOAD-TRAILER, what botocore and the AWS CLI send over HTTPS) has plain
`hex-size CRLF` lines. Which one applies is decided by the payload-hash value, never by
Content-Encoding: minio-go sends signed chunks without `Content-Encoding: aws-chunked`.

`ChunkedDecoder.feed` takes bytes as they arrive and returns the data bytes in them at once; only
a size line or trailer line (at most `MAX_LINE` bytes) is ever buffered, never chunk data. A
chunk's signature is checked when its last byte arrives, so data is handed on before it is
verified: the caller commits an object only when the whole stream ended without error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from s3front.auth import sigv4
from s3front.errors import IncompleteBody, InvalidRequest, SignatureDoesNotMatch

MAX_LINE = 4096  # a size line with its signature is ~90 bytes; a trailer line similar
MAX_TRAILERS = 16
_HEX = frozenset("0123456789abcdefABCDEF")
_SIG_EXT = "chunk-signature="
_TRAILER_SIG = "x-amz-trailer-signature"


@dataclass(frozen=True, slots=True)
class ChunkSigner:
    """What verifying a signed chunk chain needs: the key, the scope and the seed signature."""

    key: bytes
    amz_date: str
    scope: str
    seed: str

    def chunk(self, previous: str, data_sha256: str) -> str:
        return sigv4.sign(
            self.key, sigv4.chunk_string_to_sign(self.amz_date, self.scope, previous, data_sha256)
        )

    def trailer(self, previous: str, trailers_sha256: str) -> str:
        return sigv4.sign(
            self.key,
            sigv4.trailer_string_to_sign(self.amz_date, self.scope, previous, trailers_sha256),
        )


def _malformed(why: str) -> InvalidRequest:
    return InvalidRequest(f"Malformed aws-chunked body: {why}.")


class ChunkedDecoder:
    """Push decoder: `feed` raw bytes, get data back; `finish` at end of stream.

    `signer` None means unsigned chunks. `trailers_allowed` says whether trailing headers may
    follow the last chunk (the -TRAILER variants); `decoded_length` (x-amz-decoded-content-length)
    is enforced when given.
    """

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(
        self,
        signer: ChunkSigner | None,
        *,
        trailers_allowed: bool,
        decoded_length: int | None = None,
    ) -> None:
        self._signer = signer
        self._trailers_allowed = trailers_allowed
        self._decoded_length = decoded_length
        self._state = self._SIZE
        self._buf = bytearray()  # partial line only, bounded by MAX_LINE
        self._remaining = 0  # data bytes left in the current chunk
        self._chunk_sig = ""  # signature the current chunk claims
        self._previous = signer.seed if signer else ""
        self._hash = hashlib.sha256()
        self._total = 0
        self._trailer_lines: list[tuple[str, str]] = []
        self._trailer_sig: str | None = None
        self.trailers: dict[str, str] = {}

    @property
    def done(self) -> bool:
        return self._state == self._DONE

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._state == self._DATA:
                take = min(self._remaining, len(view) - pos)
                piece = bytes(view[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._signer:
                    self._hash.update(piece)
                out.append(piece)
                if self._remaining == 0:
                    self._end_of_chunk_data()
                continue
            if self._state == self._DONE:
                raise _malformed("data after the final chunk")
            # Line-oriented states: collect up to the LF.
            nl = data.find(b"\n", pos)
            end = len(view) if nl < 0 else nl + 1
            if len(self._buf) + (end - pos) > MAX_LINE:
                raise _malformed("line too long")
            self._buf += view[pos:end]
            pos = end
            if nl >= 0:
                line = bytes(self._buf)
                self._buf.clear()
                self._line(line)
        return out

    def finish(self) -> None:
        """The stream ended: anything but a completely decoded body is an IncompleteBody."""
        if self._state == self._TRAILER and not self._buf:
            # Some SDKs omit the blank line after the trailers. Every data byte and every
            # complete trailer line has arrived (and is verified below), so accept it.
            self._end_of_trailers()
        if self._state != self._DONE:
            raise IncompleteBody("The aws-chunked body ended before its final chunk.")

    # -- internals ------------------------------------------------------------------------------

    def _line(self, raw: bytes) -> None:
        if self._state == self._DATA_END:
            if raw != b"\r\n":
                raise _malformed("chunk data longer than its declared size")
            self._state = self._SIZE
            return
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("non-ASCII framing") from None
        # Lines end in CRLF; a bare LF is tolerated in trailers only (seen from some SDKs).
        if line.endswith("\r\n"):
            line = line[:-2]
        elif self._state == self._TRAILER:
            line = line[:-1]
        else:
            raise _malformed("size line not terminated by CRLF")
        if self._state == self._SIZE:
            self._size_line(line)
        else:
            self._trailer_line(line)

    def _size_line(self, line: str) -> None:
        size_hex, semi, ext = line.partition(";")
        if not size_hex or len(size_hex) > 16 or not set(size_hex) <= _HEX:
            raise _malformed("bad chunk size")
        size = int(size_hex, 16)
        if self._signer:
            if not semi or not ext.startswith(_SIG_EXT):
                raise _malformed("missing chunk-signature")
            sig = ext[len(_SIG_EXT) :]
            if len(sig) != 64 or not set(sig) <= _HEX:
                raise _malformed("bad chunk-signature")
            self._chunk_sig = sig
        elif semi:
            raise _malformed("unexpected chunk extension")
        self._total += size
        if self._decoded_length is not None and self._total > self._decoded_length:
            raise IncompleteBody(
                "The aws-chunked body is longer than x-amz-decoded-content-length."
            )
        if size == 0:
            self._verify_chunk(hashlib.sha256().hexdigest())
            if self._decoded_length is not None and self._total != self._decoded_length:
                raise IncompleteBody(
                    "The aws-chunked body is shorter than x-amz-decoded-content-length."
                )
            self._state = self._TRAILER
            return
        self._remaining = size
        self._hash = hashlib.sha256()
        self._state = self._DATA

    def _end_of_chunk_data(self) -> None:
        self._verify_chunk(self._hash.hexdigest())
        self._state = self._DATA_END

    def _verify_chunk(self, data_sha256: str) -> None:
        if not self._signer:
            return
        expected = self._signer.chunk(self._previous, data_sha256)
        if not sigv4.signatures_equal(expected, self._chunk_sig):
            raise SignatureDoesNotMatch()
        self._previous = expected

    def _trailer_line(self, line: str) -> None:
        if line == "":
            self._end_of_trailers()
            return
        if not self._trailers_allowed:
            raise _malformed("trailing headers without x-amz-trailer")
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or self._trailer_sig is not None:
            raise _malformed("bad trailer line")
        if name == _TRAILER_SIG:
            self._trailer_sig = value.strip()
            return
        if len(self._trailer_lines) >= MAX_TRAILERS:
            raise _malformed("too many trailers")
        self._trailer_lines.append((name, value.strip()))

    def _end_of_trailers(self) -> None:
        if self._signer and self._trailers_allowed:
            if self._trailer_sig is None:
                raise _malformed("missing x-amz-trailer-signature")
            canonical = "".join(f"{n}:{v}\n" for n, v in sorted(self._trailer_lines))
            digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
            expected = self._signer.trailer(self._previous, digest)
            if not sigv4.signatures_equal(expected, self._trailer_sig):
                raise SignatureDoesNotMatch()
        elif self._trailer_sig is not None:
            raise _malformed("unexpected x-amz-trailer-signature")
        self.trailers = dict(self._trailer_lines)
        self._state = self._DONE

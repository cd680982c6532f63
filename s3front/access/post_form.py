"""Browser POST uploads, the pure parts: the streaming form reader and the POST policy check.

`FormReader` is fed the body in chunks (python-multipart underneath). It keeps the fields that
come before the file (bounded: `MAX_FIELDS_BYTES` in all), then hands over the file's bytes as
they arrive, so a file of any size goes through bounded memory; fields after the file are
ignored, as S3 ignores them.

`check_policy` applies a POST policy document (`{"expiration": ..., "conditions": [...]}`)
to the form fields: exact matches (`{"field": "value"}` or `["eq", "$field", "value"]`),
`["starts-with", "$field", "prefix"]` and `["content-length-range", min, max]` (returned for
the caller to enforce while streaming). Every field except the exempt ones must be named by a
condition. Violations raise AccessDenied with the message S3 sends.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from python_multipart.multipart import MultipartParser

from s3front import errors

MAX_FIELDS_BYTES = 64 * 1024
# Fields a policy need not mention (S3: "each form field ... except x-amz-signature, file,
# policy, and field names that have an x-ignore- prefix"; V2's signature and key id likewise).
EXEMPT = frozenset({"policy", "x-amz-signature", "signature", "awsaccesskeyid", "file"})


@dataclass
class FormReader:
    boundary: bytes
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    file_content_type: str = ""
    in_file: bool = False
    file_done: bool = False
    ended: bool = False
    _pending: list[bytes] = field(default_factory=list)
    _name: str = ""
    _value: list[bytes] = field(default_factory=list)
    _field_bytes: int = 0
    _header_name: list[bytes] = field(default_factory=list)
    _header_value: list[bytes] = field(default_factory=list)
    _headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._header_name.append(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.append(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        if self.file_done:
            return  # whatever follows the file is ignored
        try:
            self._parser.write(chunk)
        except errors.S3Error:
            raise
        except Exception as exc:  # python-multipart raises its own error types
            raise errors.MalformedPOSTRequest() from exc

    def take_file_data(self) -> list[bytes]:
        out, self._pending = self._pending, []
        return out

    # -- callbacks
    def _part_begin(self) -> None:
        self._headers = {}
        self._value = []

    def _header_end(self) -> None:
        name = b"".join(self._header_name).decode("latin-1").strip().lower()
        value = b"".join(self._header_value).decode("utf-8", "replace").strip()
        self._headers[name] = value
        self._header_name, self._header_value = [], []

    def _headers_finished(self) -> None:
        disposition = self._headers.get("content-disposition", "")
        params = _disposition_params(disposition)
        self._name = params.get("name", "").lower()
        if not self._name:
            raise errors.MalformedPOSTRequest()
        if self._name == "file" and not self.in_file:
            self.in_file = True
            self.filename = params.get("filename", "")
            self.file_content_type = self._headers.get("content-type", "")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file and not self.file_done:
            self._pending.append(bytes(data[start:end]))
            return
        self._field_bytes += end - start
        if self._field_bytes > MAX_FIELDS_BYTES:
            raise errors.EntityTooLarge(
                "Your POST request fields preceding the upload file were too large."
            )
        self._value.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self.in_file:
            self.file_done = True
            return
        self.fields[self._name] = b"".join(self._value).decode("utf-8", "replace")

    def _end(self) -> None:
        self.ended = True


def _disposition_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for piece in value.split(";")[1:]:
        name, eq, raw = piece.strip().partition("=")
        if not eq:
            continue
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"')
        out[name.strip().lower()] = raw
    return out


def boundary_of(content_type: str) -> bytes:
    kind, _, rest = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        raise errors.MalformedPOSTRequest()
    for piece in rest.split(";"):
        name, _, value = piece.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"').encode("latin-1")
    raise errors.MalformedPOSTRequest()


@dataclass(frozen=True, slots=True)
class PolicyResult:
    min_length: int = 0
    max_length: int | None = None


def _denied(detail: str) -> errors.AccessDenied:
    return errors.AccessDenied(f"Invalid according to Policy: {detail}")


def decode_policy(policy_b64: str) -> dict[str, object]:
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=False))
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
        raise errors.InvalidArgument(
            "Invalid Policy: Invalid JSON.", ArgumentName="policy"
        ) from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument("Invalid Policy: Invalid JSON.", ArgumentName="policy")
    return doc


def _parse_expiration(value: object) -> datetime:
    if not isinstance(value, str):
        raise errors.InvalidArgument(
            "Invalid Policy: Invalid 'expiration' value.", ArgumentName="policy"
        )
    # AWS documents ISO 8601 in UTC ("2007-12-01T12:00:00.000Z"); the fraction is optional.
    # Other ISO spellings (a space for the T, an offset, no zone: what str(datetime) gives) are
    # 400, as ceph s3-tests test_post_object_invalid_date_format expects of AWS.
    if not _EXPIRATION.fullmatch(value):
        raise errors.InvalidArgument(
            "Invalid Policy: Invalid 'expiration' value.", ArgumentName="policy"
        )
    try:
        moment = datetime.fromisoformat(value[:19])
    except ValueError:  # digits in the right places but not a date (month 13)
        raise errors.InvalidArgument(
            "Invalid Policy: Invalid 'expiration' value.", ArgumentName="policy"
        ) from None
    return moment.replace(tzinfo=UTC)


_EXPIRATION = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z", re.ASCII)


# Far above any object size; bounds the digits a policy may send (int() of a very long string
# is slow, and Python refuses past 4,300 digits).
_MAX_LENGTH_DIGITS = 19


def _length_bound(value: object) -> int | None:
    """A content-length-range bound: a non-negative integer, as a JSON number (`1000000.0`
    from a generator that writes floats is fine) or a string of digits; None for anything
    else (fractions, Infinity, NaN, booleans, signs, huge numbers)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 10**_MAX_LENGTH_DIGITS else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_LENGTH_DIGITS:
            return int(text)
    return None


def _length_range(low: object, high: object) -> PolicyResult:
    minimum, maximum = _length_bound(low), _length_bound(high)
    if minimum is None or maximum is None or minimum > maximum:
        raise errors.InvalidPolicyDocument(
            "Invalid Policy: Invalid content-length-range: both bounds must be non-negative "
            "integers, the first not greater than the second."
        )
    return PolicyResult(minimum, maximum)


def check_policy(doc: dict[str, object], values: dict[str, str], now: datetime) -> PolicyResult:
    """`values`: the form fields (lower-case names) plus "bucket"; the key already has
    ${filename} substituted."""
    if "expiration" not in doc:
        raise errors.InvalidArgument(
            "Invalid Policy: Policy missing expiration.", ArgumentName="policy"
        )
    if now > _parse_expiration(doc["expiration"]):
        raise _denied("Policy expired.")
    conditions = doc.get("conditions")
    if not isinstance(conditions, list):
        raise errors.InvalidArgument(
            "Invalid Policy: Policy missing conditions.", ArgumentName="policy"
        )
    covered: set[str] = {"bucket"}
    result = PolicyResult()
    for cond in conditions:
        if isinstance(cond, dict) and len(cond) == 1:
            name, expected = next(iter(cond.items()))
            name = str(name).lower()
            covered.add(name)
            if values.get(name) != str(expected):
                raise _denied(f'Policy Condition failed: ["eq", "${name}", "{expected}"]')
        elif isinstance(cond, list) and len(cond) == 3:
            op = str(cond[0]).lower()
            if op == "content-length-range":
                result = _length_range(cond[1], cond[2])
                continue
            target = str(cond[1])
            if op not in ("eq", "starts-with") or not target.startswith("$"):
                raise errors.InvalidArgument(
                    f"Invalid Policy: Invalid Condition: {json.dumps(cond)}",
                    ArgumentName="policy",
                )
            name = target[1:].lower()
            covered.add(name)
            have = values.get(name, "")
            want = str(cond[2])
            ok = have == want if op == "eq" else have.startswith(want)
            if not ok:
                raise _denied(f'Policy Condition failed: ["{op}", "{target}", "{want}"]')
        else:
            raise errors.InvalidArgument(
                f"Invalid Policy: Invalid Condition: {json.dumps(cond)}", ArgumentName="policy"
            )
    extra = sorted(
        n for n in values if n not in covered and n not in EXEMPT and not n.startswith("x-ignore-")
    )
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    return result

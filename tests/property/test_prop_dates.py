"""Properties of the hand-written HTTP date formatter (every GET and HEAD sends one): it agrees
with the standard library's, and conditional-request dates it writes parse back."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from hypothesis import example, given
from hypothesis import strategies as st

from s3front.api.headers import http_date

# Up to the end of year 9999 in milliseconds.
MS = st.integers(0, 253_402_300_799_999)


@given(MS)
@example(0)
@example(999)
@example(951_782_400_000)  # 2000-02-29
def test_http_date_is_the_standard_imf_fixdate(ms: int) -> None:
    expected = format_datetime(
        datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=0), usegmt=True
    )
    assert http_date(ms) == expected


@given(MS)
def test_http_date_parses_back_to_its_second(ms: int) -> None:
    assert int(parsedate_to_datetime(http_date(ms)).timestamp()) == ms // 1000

"""Wildcard matching for policies and CORS rules, in time linear in the input.

User-supplied patterns (a policy's Resource or StringLike value, a CORS AllowedHeader) used to be
turned into regular expressions; `.*a.*a.*a...b` against a long key backtracks exponentially and
stalls the event loop for every request. Here a pattern is an NFA simulated with one Python int
as the set of live states (bit i: "the first i pattern characters are matched"), so one input
character costs a few big-int operations on `len(pattern)` bits: O(len(text) * len(pattern)/64)
word operations at worst, with no backtracking at all.

`*` matches any run of characters (also none); `?`, where enabled, exactly one character (AWS
policies); CORS rules only know `*`, so there `?` is a literal.
"""

from __future__ import annotations

from functools import lru_cache

_MAX_MASKS = 256
_KEEP_MASKS_UP_TO = 512  # pattern length


class Glob:
    """One compiled pattern; `matches(text)` is a full match."""

    __slots__ = (
        "_accept",
        "_fold",
        "_literal",
        "_masks",
        "_min_len",
        "_positions",
        "_question",
        "_star",
    )

    def __init__(self, pattern: str, *, ignore_case: bool = False, question: bool = True) -> None:
        self._fold = ignore_case
        if ignore_case:
            pattern = pattern.lower()
        # Consecutive stars mean what one star means; collapsing them lets one shift close
        # the "a star matches nothing" epsilon moves below.
        chars: list[str] = []
        for c in pattern:
            if c == "*" and chars and chars[-1] == "*":
                continue
            chars.append(c)
        self._literal: str | None = None
        if "*" not in chars and not (question and "?" in chars):
            self._literal = "".join(chars)
        star = question_bits = 0
        positions: dict[str, list[int]] = {}
        for i, c in enumerate(chars):
            if c == "*":
                star |= 1 << i
            elif c == "?" and question:
                question_bits |= 1 << i
            else:
                positions.setdefault(c, []).append(i)
        self._star = star
        self._question = question_bits
        self._positions = positions
        self._masks: dict[str, int] = {}
        self._accept = 1 << len(chars)
        # Each non-star character consumes one input character: a longer input is needed.
        self._min_len = len(chars) - chars.count("*")

    def _mask(self, c: str, masks: dict[str, int], cap: int) -> int:
        """States that advance on character `c`: a `?` or the character itself (built lazily,
        so a pattern of many distinct characters costs only for the characters seen)."""
        mask = masks.get(c)
        if mask is not None:
            return mask
        where = self._positions.get(c)
        if not where:
            return self._question
        bits = bytearray(where[-1] // 8 + 1)
        for i in where:
            bits[i >> 3] |= 1 << (i & 7)
        mask = self._question | int.from_bytes(bits, "little")
        if len(masks) < cap:
            masks[c] = mask
        return mask

    def _close(self, states: int) -> int:
        # A live state sitting on a star may also skip it (the star matching nothing).
        return states | ((states & self._star) << 1)

    def matches(self, text: str) -> bool:
        if self._fold:
            text = text.lower()
        if self._literal is not None:
            return text == self._literal
        if len(text) < self._min_len:
            return False
        star = self._star
        # Masks of short patterns are kept with the pattern; a long one's (up to a policy's
        # size each) only for this call, so cached patterns stay small.
        # (A call's own masks are bounded by the distinct characters of its text.)
        keep = self._accept.bit_length() <= _KEEP_MASKS_UP_TO
        masks, cap = (self._masks, _MAX_MASKS) if keep else ({}, len(text))
        states = self._close(1)
        for c in text:
            # Advance on the character, or stay on a star that swallows it.
            states = ((states & self._mask(c, masks, cap)) << 1) | (states & star)
            if not states:
                return False
            states = self._close(states)
        return bool(states & self._accept)


@lru_cache(maxsize=1024)
def compile_glob(pattern: str, *, ignore_case: bool = False, question: bool = True) -> Glob:
    return Glob(pattern, ignore_case=ignore_case, question=question)


def match(pattern: str, text: str, *, ignore_case: bool = False, question: bool = True) -> bool:
    """Whether `text` matches `pattern` as a whole."""
    return compile_glob(pattern, ignore_case=ignore_case, question=question).matches(text)

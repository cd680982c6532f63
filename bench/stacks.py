"""Summarise py-spy's collapsed stacks (`--format raw`, as `compare.py --py-spy` writes them).

    .venv/bin/python bench/stacks.py FILE [--top 30] [--match TEXT]

Prints the functions that hold the most samples: self (the frame on top of the stack) and
inclusive (anywhere in the stack, counted once per sample), as shares of all samples. Idle
samples (the event loop waiting in select/epoll) are counted apart, so the shares are of the
time the server was busy. `--match` keeps only samples whose stack contains TEXT.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence

_IDLE = re.compile(r"\b(select|poll|epoll_wait|_run_once \(asyncio|run_forever)\b")
_LINE = re.compile(r" \(([^()]*):\d+\)$")


def frame_name(frame: str) -> str:
    """'handle (s3front/api/objects.py:12)' -> 'handle (s3front/api/objects.py)'."""
    m = _LINE.search(frame)
    return frame[: m.start()] + f" ({m.group(1)})" if m else frame


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--match", default="")
    args = ap.parse_args(argv)
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    busy = idle = 0
    with open(args.file, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            if args.match and args.match not in stack:
                continue
            n = int(count_text)
            frames = [frame_name(f) for f in stack.split(";")]
            if _IDLE.search(frames[-1]):
                idle += n
                continue
            busy += n
            own[frames[-1]] += n
            for f in set(frames):
                incl[f] += n
    if not busy:
        print("no busy samples")
        return 1
    print(f"{busy} busy samples, {idle} idle")
    for title, counter in (("self", own), ("inclusive", incl)):
        print(f"\n{title}:")
        for name, n in counter.most_common(args.top):
            print(f"  {100 * n / busy:5.1f}%  {name[:150]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

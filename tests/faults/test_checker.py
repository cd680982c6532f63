"""The crash checker must be able to fail: its rule on a table of hand-made histories, and the
whole check against a store that was tampered with while the server was down (a torn block, a
database rolled back past acknowledged writes)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import s3front_faults_crashkit as ck

A, B, C = "a" * 64, "b" * 64, "c" * 64
GONE = ck.ABSENT


def _history(
    ops: list[tuple[str, int, float, float | None, str]], kills: dict[int, float]
) -> ck.History:
    """ops: (kind, generation, start, acked_at or None, value) on key "k"."""
    h = ck.History(["k"], ["s"])
    h.source_values["s"] = {C}
    for kind, gen, start, acked, value in ops:
        op = ck.Op("k", kind, gen, start, frozenset([value] if value else []), acked_at=acked)
        if kind == "copy":
            op.source = "s"
        h.ops["k"].append(op)
    h.kill_times.update(kills)
    return h


@pytest.mark.parametrize(
    ("ops", "kills", "possible"),
    [
        # Acked one after the other: only the later one.
        ([("put", 1, 0, 1, A), ("put", 1, 2, 3, B)], {}, {B}),
        # Overlapping acked writes: either may have won.
        ([("put", 1, 0, 3, A), ("put", 1, 1, 2, B)], {}, {A, B}),
        # A delete acked last: absent only.
        ([("put", 1, 0, 1, A), ("delete", 1, 2, 3, GONE)], {}, {GONE}),
        # A failed write cut by the kill of its server may or may not have happened...
        ([("put", 1, 0, 1, A), ("put", 1, 2, None, B)], {1: 5}, {A, B}),
        # ...but an acked write sent after that kill overwrote it either way.
        ([("put", 1, 0, 1, A), ("put", 1, 2, None, B), ("put", 2, 6, 7, C)], {1: 5}, {C}),
        # A failed copy may have copied any value its source ever had.
        ([("put", 1, 0, 1, A), ("copy", 1, 2, None, "")], {1: 5}, {A, C}),
        # What a check read pins the state: an older version may not come back.
        ([("put", 1, 0, 3, A), ("put", 1, 1, 2, B), ("observed", -1, 10, 10, B)], {1: 5}, {B}),
    ],
)
def test_possible_latest_values(
    ops: list[tuple[str, int, float, float | None, str]],
    kills: dict[int, float],
    possible: set[str],
) -> None:
    assert _history(ops, kills).possible("k") == possible


def _campaign(tmp_path: Path) -> ck.Campaign:
    c = ck.Campaign(ck.Target(tmp_path / "srv", None, 30.0), ck.Config(clients=0, keys=2), seed=1)
    c.setup()
    return c


def _store_dir(c: ck.Campaign) -> Path:
    return Path(c.target.store_url.removeprefix("sqlite://"))


def test_checker_catches_a_torn_block(tmp_path: Path) -> None:
    c = _campaign(tmp_path)
    try:
        c._put("k/00", os.urandom(2 * ck.MiB + 5), "put-large")
        assert c.history.ops["k/00"][-1].acked_at is not None

        def tear(c: ck.Campaign) -> None:
            blocks = sorted(p for p in (_store_dir(c) / "blocks").rglob("*") if p.is_file())
            assert blocks, "no block files"
            for path in blocks:  # flip a byte in the middle of every block
                data = bytearray(path.read_bytes())
                data[len(data) // 2] ^= 0xFF
                path.write_bytes(bytes(data))

        with pytest.raises(AssertionError, match="k/00"):
            c.kill_and_restart(while_down=tear)
    finally:
        c.finish()
        if c.target.server is not None:
            ck.sup.stop_server(c.target.server)


def test_checker_catches_lost_acknowledged_writes(tmp_path: Path) -> None:
    c = _campaign(tmp_path)
    saved = tmp_path / "saved"
    try:
        c.kill_and_restart()  # a first check: the seeded values
        c._quiesce_for_kill()
        c.target.stop(c.history)  # a clean stop, so the copied database files are whole
        shutil.copytree(_store_dir(c), saved)
        c.target.start()
        c._put("k/01", os.urandom(100), "put-small")  # acknowledged, then "lost" below
        assert c.history.ops["k/01"][-1].acked_at is not None

        def roll_back(c: ck.Campaign) -> None:
            shutil.rmtree(_store_dir(c))
            shutil.copytree(saved, _store_dir(c))

        with pytest.raises(AssertionError, match="k/01 holds"):
            c.kill_and_restart(while_down=roll_back)
    finally:
        c.finish()
        if c.target.server is not None:
            ck.sup.stop_server(c.target.server)

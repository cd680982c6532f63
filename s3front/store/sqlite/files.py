"""Where the SQLite store keeps its files, and their permissions (see the package docstring):
the directory and its files are created private, whatever the umask."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from dataclasses import dataclass

DB_NAME = "s3front.db"
DIR_MODE = 0o700
FILE_MODE = 0o600
log = logging.getLogger("s3front.store")


@dataclass(frozen=True, slots=True)
class Layout:
    """The paths of one open store."""

    path: str  # the store directory
    db_path: str
    block_dir: str
    # Each process writes its half-written blocks in its own directory, so that a process
    # opening the store (another server worker, `s3front gc`) clears only dead ones' files.
    tmp_root: str
    tmp_dir: str

    @classmethod
    def of(cls, path: str) -> Layout:
        block_dir = os.path.join(path, "blocks")
        tmp_root = os.path.join(block_dir, "tmp")
        return cls(
            path=path,
            db_path=os.path.join(path, DB_NAME),
            block_dir=block_dir,
            tmp_root=tmp_root,
            tmp_dir=os.path.join(tmp_root, f"{os.getpid()}.{uuid.uuid4().hex[:8]}"),
        )

    def block_path(self, block_id: bytes) -> str:
        h = block_id.hex()
        return os.path.join(self.block_dir, h[:2], h)


def clear_dead_tmp(tmp_root: str) -> None:
    """Remove what no live process is writing: loose files, and the directories (named
    "<pid>.<random>", one per open store) of processes that are gone."""
    try:
        names = os.listdir(tmp_root)
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(tmp_root, name)
        pid = name.split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue  # maybe another store open in this or another process
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def make_private_dirs(*paths: str) -> None:
    """Create each directory (in order, so give parents first) 0700 if it is missing; mkdir's
    mode can only lose bits to the umask, never gain them."""
    for p in paths:
        with contextlib.suppress(FileExistsError):
            os.mkdir(p, DIR_MODE)


def create_private_file(path: str) -> None:
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


_warned: set[str] = set()  # store directories already warned about by this process


def warn_if_readable(layout: Layout) -> None:
    """One warning naming what users other than the owner can reach (group/other bits)."""
    if layout.path in _warned:
        return
    loose = []
    for p in (layout.path, layout.block_dir, layout.db_path, layout.db_path + "-wal"):
        with contextlib.suppress(FileNotFoundError):
            mode = os.stat(p).st_mode & 0o777
            if mode & 0o077:
                loose.append(f"{p} (mode {mode:04o})")
    if loose:
        _warned.add(layout.path)
        log.warning(
            "the store's files are accessible to other users, and may hold access key secrets: "
            "%s; chmod 700 the directory and 600 the database files",
            ", ".join(loose),
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's
    return True

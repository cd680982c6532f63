"""Store latency metrics without touching the backends: a timing proxy around each protocol.

Every coroutine method of the wrapped object is timed into
`s3front_store_operation_duration_seconds{backend, op, outcome}`; other attributes pass
through. The wrapped bound methods are cached on first use, so the per-call cost is one
perf_counter pair and a histogram observation.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from s3front import metrics
from s3front.store.protocols import BlockStore, KeyStore, MetaStore, Store


class _Timed:
    def __init__(self, target: object, backend: str) -> None:
        self._target = target
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        fn = cast(Callable[..., Coroutine[Any, Any, Any]], attr)
        ok, failed = (self._backend, name, "ok"), (self._backend, name, "error")
        observe, clock = metrics.STORE_SECONDS.observe, time.perf_counter

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                result = await fn(*args, **kwargs)
            except BaseException:
                observe(failed, clock() - started)
                raise
            observe(ok, clock() - started)
            return result

        setattr(self, name, timed)  # later lookups skip __getattr__
        return timed


class MeteredStore:
    def __init__(self, store: Store, backend: str) -> None:
        self._store = store
        self._meta = cast(MetaStore, _Timed(store.meta, backend))
        self._blocks = cast(BlockStore, _Timed(store.blocks, backend))
        self._keys = cast(KeyStore, _Timed(store.keys, backend))

    @property
    def meta(self) -> MetaStore:
        return self._meta

    @property
    def blocks(self) -> BlockStore:
        return self._blocks

    @property
    def keys(self) -> KeyStore:
        return self._keys

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:
        await self._store.close()


def metered(store: Store, url: str) -> Store:
    return MeteredStore(store, url.split(":", 1)[0])

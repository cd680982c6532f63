"""The `s3front` command: serve, schema, keys."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from s3front import config
from s3front.memory import keep_freed_memory
from s3front.store.errors import StoreError

if TYPE_CHECKING:
    from s3front.app import S3Front

log = logging.getLogger("s3front")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from s3front.limits import protocol_factory

    overrides = {
        "host": args.host,
        "port": args.port,
        "store": args.store,
        "domains": args.domain or None,
        "region": args.region,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "workers": args.workers,
    }
    settings = config.load(overrides, config_file=args.config)
    _setup_logging(settings.log_level)
    log.info("starting with configuration %s", json.dumps(settings.describe()))
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "ssl_certfile": settings.tls_cert or None,
        "ssl_keyfile": settings.tls_key or None,
        "log_level": settings.log_level,
        "access_log": False,  # s3front writes its own structured access log
        "server_header": False,
        "proxy_headers": False,
        "timeout_graceful_shutdown": 30,
        "log_config": None,
        # s3front.limits: httptools with a bounded, timed request head; the h11 limit is for
        # a deployment that forces h11.
        "http": protocol_factory(
            max_header_bytes=settings.max_header_bytes,
            header_timeout=settings.header_timeout,
            anonymous_share=settings.anonymous_share,
            anonymous_per_client=settings.anonymous_per_client,
        ),
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "limit_concurrency": settings.limit_concurrency or None,
    }
    # The root key and the master key are checked here, before uvicorn starts, so that a
    # refusal (revoked root key, wrong master key, unreachable store) is one line from main()
    # rather than a traceback from the ASGI lifespan. With workers this is also the one place
    # the root key is made: two workers each finding no key would both create one. The
    # lifespan repeats the (idempotent) check for apps started some other way.
    asyncio.run(_ensure_root_key(settings))
    if settings.workers <= 1:
        from s3front.app import create_app

        keep_freed_memory()  # this process serves (with workers, each does: app_from_env)
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return 0
    # Several worker processes share the listening socket; each builds its app from the
    # environment (uvicorn spawns them and can only pass an import string).
    _export_settings(overrides, args.config)
    uvicorn.run(
        "s3front.cli:app_from_env",
        factory=True,
        workers=settings.workers,
        **options,  # type: ignore[arg-type]
    )
    return 0


def _export_settings(overrides: Mapping[str, object], config_file: str | None) -> None:
    """Hand the command line to the worker processes through their environment."""
    if config_file:
        os.environ["S3FRONT_CONFIG"] = config_file
    for name, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        os.environ[f"S3FRONT_{name.upper()}"] = str(value)


async def _ensure_root_key(settings: config.Settings) -> None:
    from s3front.api.context import now_ms
    from s3front.app import print_credentials
    from s3front.keys import ensure_root_key
    from s3front.store import open_store

    # A store that cannot be reached ends the start with one line from main(); the driver's own
    # log of the failed connection (with tracebacks) would bury it.
    driver_log = logging.getLogger("cassandra")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)
    try:
        store = await open_store(settings.store)
    finally:
        driver_log.setLevel(level)
    try:
        generated = await ensure_root_key(
            store.keys,
            settings.root_access_key,
            settings.root_secret_key,
            now_ms(),
            settings.master_key,
        )
    finally:
        await store.close()
    if generated is not None:
        print_credentials(generated.access_key, generated.secret, settings)


def app_from_env() -> S3Front:
    """The app of one worker process (`serve --workers N`): settings from the environment."""
    from s3front.app import create_app

    settings = config.load()
    _setup_logging(settings.log_level)
    keep_freed_memory()  # a spawned worker is a new process: its malloc starts afresh
    return create_app(settings)


def _store_url(args: argparse.Namespace) -> str:
    return str(config.load({"store": getattr(args, "store", None)}).store)


def cmd_schema(args: argparse.Namespace) -> int:
    from s3front import schema

    url = _store_url(args)
    if not url.startswith("cassandra:"):
        print("the embedded SQLite store needs no schema job; nothing to do", file=sys.stderr)
        return 0
    if args.schema_cmd == "apply":
        return schema.cli_apply(url, args.strategy, args.replication)
    return schema.cli_status(url)


def _status_printer() -> Callable[[str], None] | None:
    """Progress for long commands: one rewritten status line on a terminal; nothing in logs
    (a pipe or a Job's log gets only the final summary)."""
    if not sys.stderr.isatty():
        return None

    def show(message: str) -> None:
        sys.stderr.write("\r\x1b[2K" + message[:200])
        sys.stderr.flush()

    return show


def cmd_gc(args: argparse.Namespace) -> int:
    return asyncio.run(_gc(args))


async def _gc(args: argparse.Namespace) -> int:
    from s3front.gc import run_gc
    from s3front.store import open_store

    store = await open_store(_store_url(args))
    try:
        report = await run_gc(store, grace_seconds=args.grace, progress=_progress_logger("gc"))
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[2K")
        print(report.summary())
        return 0
    finally:
        await store.close()


def _progress_logger(label: str, every: float = 30.0) -> Callable[[str], None]:
    """Progress of a long command: the status line on a terminal; elsewhere (a CronJob's log)
    one plain line at most every `every` seconds, so a long pass still shows it is alive."""
    shown = _status_printer()
    if shown is not None:
        return shown
    last = [time.monotonic()]

    def log_line(message: str) -> None:
        if time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            print(f"{label}: {message}", file=sys.stderr, flush=True)

    return log_line


def cmd_lifecycle(args: argparse.Namespace) -> int:
    return asyncio.run(_lifecycle(args))


async def _lifecycle(args: argparse.Namespace) -> int:
    from s3front.lifecycle_worker import run_lifecycle
    from s3front.store import open_store

    settings = config.load({"store": args.store})
    store = await open_store(settings.store)
    try:
        report = await run_lifecycle(
            store,
            day_seconds=settings.lifecycle_day_seconds,
            progress=_progress_logger("lifecycle"),
        )
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[2K")
        print(report.summary())
        return 1 if report.errors else 0
    finally:
        await store.close()


def cmd_stats(args: argparse.Namespace) -> int:
    return asyncio.run(_stats(args))


async def _stats(args: argparse.Namespace) -> int:
    from s3front.stats import collect_stats
    from s3front.store import open_store

    store = await open_store(_store_url(args))
    try:
        stats = await collect_stats(store, _status_printer())
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[2K")
        print(stats.summary())
        return 0
    finally:
        await store.close()


def cmd_keys(args: argparse.Namespace) -> int:
    return asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> int:
    """keys create|list|revoke|rotate. Secrets are printed once, by create and rotate, and
    never by list; with S3FRONT_MASTER_KEY set they are sealed at rest."""
    import time

    from s3front import keys
    from s3front.store import open_store

    settings = config.load({"store": getattr(args, "store", None)})
    master = settings.master_key
    now = int(time.time() * 1000)
    store = await open_store(str(settings.store))
    try:
        if args.keys_cmd == "create":
            rec = await keys.create_key(
                store.keys, args.tenant, args.display_name or args.tenant, master, now
            )
            print(
                f"access key:   {rec.access_key}\nsecret key:   {rec.secret}\n"
                f"tenant:       {args.tenant}\ncanonical id: {rec.tenant}\n"
                f"display name: {rec.display_name}"
            )
        elif args.keys_cmd == "list":
            print("ACCESS KEY\tCANONICAL ID\tDISPLAY NAME\tSTATUS")
            for k in sorted(
                keys.listed_keys(await store.keys.list_keys()),
                key=lambda r: (keys.tenant_id(r.tenant), r.created_ms, r.access_key),
            ):
                print(f"{k.access_key}\t{keys.tenant_id(k.tenant)}\t{k.display_name}\t{k.status}")
        elif args.keys_cmd == "revoke":
            if await keys.revoke_key(store.keys, args.access_key) is None:
                print(f"no such access key: {args.access_key}", file=sys.stderr)
                return 1
            print(f"revoked {args.access_key}")
        elif args.keys_cmd == "rotate":
            new = await keys.rotate_key(store.keys, args.access_key, master, now)
            if new is None:
                print(f"no such access key: {args.access_key}", file=sys.stderr)
                return 1
            print(
                f"access key:   {new.access_key}\nsecret key:   {new.secret}\n"
                f"canonical id: {new.tenant}\nrevoked:      {args.access_key}"
            )
        return 0
    except keys.MasterKeyError as exc:
        print(f"s3front: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


def _grace(text: str) -> float:
    """--grace: a finite number of seconds, not negative (inf would make GC fail mid-pass)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite, non-negative number: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="s3front", description="S3-compatible object store front-end")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the S3 server")
    s.add_argument("--host", help="listen address (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="listen port (default 9000)")
    s.add_argument(
        "--store", help="store URL: sqlite:///dir (default sqlite://./data) or cassandra://..."
    )
    s.add_argument(
        "--domain", action="append", help="domain for virtual-hosted buckets (repeatable)"
    )
    s.add_argument("--region", help="region name (default us-east-1)")
    s.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    s.add_argument("--tls-key", help="PEM private key for --tls-cert")
    s.add_argument("--config", help="TOML configuration file")
    s.add_argument(
        "--workers",
        type=int,
        help="server processes sharing the port (default 1; about one per core)",
    )
    s.set_defaults(func=cmd_serve)

    sc = sub.add_parser("schema", help="create or upgrade the Cassandra schema")
    scs = sc.add_subparsers(dest="schema_cmd", required=True)
    for name in ("apply", "status"):
        c = scs.add_parser(name)
        c.add_argument("--store", help="cassandra://host:9042/keyspace?dc=... (or S3FRONT_STORE)")
        if name == "apply":
            c.add_argument(
                "--strategy",
                default="SimpleStrategy",
                choices=["SimpleStrategy", "NetworkTopologyStrategy"],
            )
            c.add_argument(
                "--replication",
                default="1",
                help="replication factor (SimpleStrategy) or dc1:3,dc2:3",
            )
    sc.set_defaults(func=cmd_schema)

    k = sub.add_parser("keys", help="manage access keys")
    ks = k.add_subparsers(dest="keys_cmd", required=True)
    kc = ks.add_parser("create")
    kc.add_argument("--tenant", required=True, help="tenant name (or canonical id)")
    kc.add_argument("--display-name")
    ks.add_parser("list")
    kr = ks.add_parser("revoke")
    kr.add_argument("access_key")
    kt = ks.add_parser("rotate", help="new key for the same tenant; the old one is revoked")
    kt.add_argument("access_key")
    for c in (kc, ks.choices["list"], kr, kt):
        c.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    k.set_defaults(func=cmd_keys)

    g = sub.add_parser("gc", help="delete blocks and manifests that nothing references")
    g.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    g.add_argument(
        "--grace",
        type=_grace,
        default=24 * 3600,
        help="seconds garbage is kept before it may be freed; writes in progress are safe at"
        " any value, 0 included (default 86400)",
    )
    g.set_defaults(func=cmd_gc)
    lc = sub.add_parser("lifecycle", help="apply the buckets' lifecycle rules")
    lcs = lc.add_subparsers(dest="lifecycle_cmd", required=True)
    lr = lcs.add_parser("run", help="one pass over every bucket (e.g. from a CronJob)")
    lr.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    lr.set_defaults(func=cmd_lifecycle)
    st = sub.add_parser("stats", help="logical vs stored bytes and the dedup ratio")
    st.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    st.set_defaults(func=cmd_stats)
    from s3front import kms_cli  # the SSE-KMS key ring (s3front.kms_cli)

    kms_cli.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Expected failures end with one line on stderr, not a traceback: bad settings or keys (2),
    # a store that cannot be reached or opened, or a file that cannot be read (1). The messages
    # name settings and access key ids, never secrets.
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"s3front: {exc}", file=sys.stderr)
        return 2
    except (StoreError, OSError) as exc:
        print(f"s3front: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

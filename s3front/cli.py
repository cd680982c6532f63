"""The `s3front` command: serve, schema, keys, gc, stats, migrate.

Every expected failure ends with one line on stderr and a non-zero exit, never a traceback:
usage errors (2, from `_Parser.error`), bad settings or keys (2), a store that cannot be reached
or opened, or a file that cannot be read (1). See `main`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import ssl
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NoReturn

from s3front import __version__, config, progress
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
    if settings.tls_cert:
        _check_tls(settings.tls_cert, settings.tls_key)
    _setup_logging(settings.log_level)
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
    if args.wait_for_store:
        from s3front.startup_wait import wait_for_store

        asyncio.run(wait_for_store(settings))  # answers the probes meanwhile (readyz says why)
    # The root key and the master key are checked here, before uvicorn starts, so that a
    # refusal (revoked root key, wrong master key, unreachable store) is one line from main()
    # rather than a traceback from the ASGI lifespan. With workers this is also the one place
    # the root key is made: two workers each finding no key would both create one. The
    # lifespan repeats the (idempotent) check for apps started some other way.
    asyncio.run(_ensure_root_key(settings))
    # After the check: a refused start is its one error line and nothing else.
    log.info("starting with configuration %s", json.dumps(settings.describe()))
    if settings.workers <= 1:
        from s3front.app import create_app

        keep_freed_memory()  # this process serves (with workers, each does: app_from_env)
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return 0
    # Several worker processes share the listening socket; each builds its app from the
    # environment (uvicorn spawns them and can only pass an import string). They share a
    # directory of metrics snapshots, so that a scrape reports all of them (s3front.metrics).
    _export_settings(overrides, args.config)
    from s3front.metrics import METRICS_DIR_ENV

    metrics_dir = tempfile.mkdtemp(prefix="s3front-metrics-")
    os.environ[METRICS_DIR_ENV] = metrics_dir
    try:
        uvicorn.run(
            "s3front.cli:app_from_env",
            factory=True,
            workers=settings.workers,
            **options,  # type: ignore[arg-type]
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def _check_tls(cert: str, key: str) -> None:
    """Load the certificate and key once before starting, so that a missing or bad file is a
    one-line refusal naming the file (uvicorn would fail later, with a traceback and, for a
    missing file, an OSError that names no file)."""
    for what, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise ValueError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise ValueError(
            f"--tls-cert {cert} / --tls-key {key}: not a usable pair: {reason}"
        ) from None
    except OSError as exc:  # should not happen after the reads above; still one line
        raise ValueError(f"--tls-cert {cert} / --tls-key {key}: {exc}") from None


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
    from s3front.clock import now_ms
    from s3front.keys import ensure_root_key, print_credentials
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
    from s3front import metrics
    from s3front.app import create_app

    settings = config.load()
    _setup_logging(settings.log_level)
    keep_freed_memory()  # a spawned worker is a new process: its malloc starts afresh
    if shared := os.environ.get(metrics.METRICS_DIR_ENV):
        metrics.share_with_workers(shared)
    return create_app(settings)


def cmd_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 if the server that these settings describe answers GET /-/healthz with 200.

    For a container's HEALTHCHECK: it reads the same settings as `serve` (S3FRONT_* variables,
    the --config file), so it follows the configured port and scheme. The certificate is not
    verified: the check asks whether this process serves, not whether its name matches.
    """
    import http.client

    settings = config.load(config_file=args.config)
    host = settings.host
    if host in ("", "0.0.0.0", "::"):  # listening everywhere: ask over loopback
        host = "::1" if host == "::" else "127.0.0.1"
    conn: http.client.HTTPConnection
    if settings.tls_cert:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            host, settings.port, timeout=args.timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, settings.port, timeout=args.timeout)
    scheme = "https" if settings.tls_cert else "http"
    try:
        conn.request("GET", "/-/healthz")
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        print(f"s3front healthcheck: {scheme}://{host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if status != 200:
        print(f"s3front healthcheck: /-/healthz answered {status}", file=sys.stderr)
        return 1
    return 0


def _store_url(args: argparse.Namespace) -> str:
    return str(config.load({"store": getattr(args, "store", None)}).store)


def cmd_schema(args: argparse.Namespace) -> int:
    url = _store_url(args)
    if not url.startswith("cassandra:"):
        print("the embedded SQLite store needs no schema job; nothing to do", file=sys.stderr)
        return 0
    if args.schema_cmd == "apply":
        return schema_apply(url, args.strategy, args.replication, args.deadline)
    return schema_status(url)


def schema_apply(
    url: str,
    strategy: str = "SimpleStrategy",
    replication_spec: str = "",
    deadline: float | None = None,
) -> int:
    """`s3front schema apply`: print what happens; exit code 0, 1 (failed) or 2 (bad options)."""
    from s3front.store.cassandra import schema
    from s3front.store.cassandra.session import parse_url

    try:
        full = schema.resolve_strategy(strategy)
        cfg = parse_url(url)
        replication = schema.parse_replication(full, replication_spec, cfg.dc)
        schema.replication_map(full, replication)
    except (schema.SchemaError, ValueError) as exc:
        print(f"s3front schema apply: {exc}", file=sys.stderr)
        return 2
    try:
        old, new = schema.apply_schema_sync(
            url,
            full,
            replication,
            lambda msg: print(f"schema: {msg}", flush=True),
            deadline=deadline,
        )
    except schema.SchemaError as exc:
        print(f"s3front schema apply: FAILED: {exc}", file=sys.stderr)
        return 1
    if old == new:
        print(f"schema: keyspace {cfg.keyspace} already at version {new}; nothing to do")
    else:
        print(f"schema: keyspace {cfg.keyspace} upgraded from version {old} to {new}")
    if new < schema.REQUIRED_VERSION:
        # The files this installation carries stop short of what its server needs (a broken
        # install, or S3FRONT_SCHEMA_DIR naming an old copy): `serve` would refuse the keyspace.
        print(
            f"s3front schema apply: FAILED: keyspace {cfg.keyspace} is at version {new}, the "
            f"server needs {schema.REQUIRED_VERSION}: this installation's schema files "
            f"({schema.SCHEMA_DIR}) are missing or out of date",
            file=sys.stderr,
        )
        return 1
    return 0


def schema_status(url: str) -> int:
    """`s3front schema status`: 0 if current, 3 if missing or outdated, 1 if unreachable."""
    from s3front.store.cassandra import schema
    from s3front.store.cassandra.session import parse_url

    required = schema.REQUIRED_VERSION
    try:
        version = schema.schema_status_sync(url)
        ks = parse_url(url).keyspace
    except (schema.SchemaError, ValueError) as exc:
        print(f"s3front schema status: {exc}", file=sys.stderr)
        return 1
    if version is None:
        print(f"schema: keyspace {ks} does not exist (needs version {required})")
        return 3
    state = "up to date" if version >= required else "outdated: run `s3front schema apply`"
    print(f"schema: keyspace {ks} at version {version}, needs {required} ({state})")
    return 0 if version >= required else 3


def cmd_gc(args: argparse.Namespace) -> int:
    return asyncio.run(_gc(args))


async def _gc(args: argparse.Namespace) -> int:
    from s3front.objects.gc import run_gc
    from s3front.store import open_store

    settings = config.load({"store": getattr(args, "store", None)})
    # --grace wins; without it, S3FRONT_GC_GRACE (or the config file), as the server's GC reads.
    grace = args.grace if args.grace is not None else settings.gc_grace
    store = await open_store(str(settings.store))
    try:
        report = await run_gc(store, grace_seconds=grace, progress=_progress_logger("gc"))
        progress.clear_status()
        print(report.summary())
        return 0
    finally:
        await store.close()


def _progress_logger(label: str, every: float = 30.0) -> Callable[[str], None]:
    """Progress of a long command (`progress.status_line`)."""
    return progress.status_line(label, every)


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
        progress.clear_status()
        print(report.summary())
        return 1 if report.errors else 0
    finally:
        await store.close()


def cmd_stats(args: argparse.Namespace) -> int:
    return asyncio.run(_stats(args))


async def _stats(args: argparse.Namespace) -> int:
    from s3front.objects.stats import collect_stats
    from s3front.store import open_store

    store = await open_store(_store_url(args))
    try:
        stats = await collect_stats(store, progress.terminal_status())
        progress.clear_status()
        print(stats.summary())
        return 0
    finally:
        await store.close()


def cmd_keys(args: argparse.Namespace) -> int:
    return asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> int:
    """keys create|list|revoke|rotate. Secrets are printed once, by create and rotate, and
    never by list; with S3FRONT_MASTER_KEY set they are sealed at rest."""
    from s3front import keys
    from s3front.clock import now_ms
    from s3front.store import open_store

    settings = config.load({"store": getattr(args, "store", None)})
    master = settings.master_key
    now = now_ms()
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


def cmd_migrate(args: argparse.Namespace) -> int:
    from s3front.migrate import migrate

    if args.sample < 0:
        raise ValueError("--sample must be 0 or more")
    return asyncio.run(migrate(args.source, args.target, sample=args.sample))


def _grace(text: str) -> float:
    """--grace: a finite number of seconds, not negative (inf would make GC fail mid-pass)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite, non-negative number: {text!r}")
    return value


def _port(text: str) -> int:
    """--port: a TCP port number, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 1 and 65535: {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what was wrong, and where to read more), like
    every other failure of the command; `--help` still prints the full usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="s3front", description="S3-compatible object store front-end")
    p.add_argument("--version", action="version", version=f"s3front {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the S3 server", description="Run the S3 server.")
    s.add_argument("--host", help="listen address (default 127.0.0.1)")
    s.add_argument("--port", type=_port, help="listen port, 1-65535 (default 9000)")
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
    s.add_argument(
        "--wait-for-store",
        action="store_true",
        help="if the store cannot be reached or its schema is missing or outdated, wait for it"
        " (answering /-/healthz 200 and /-/readyz 503 with the reason) instead of exiting",
    )
    s.set_defaults(func=cmd_serve)

    sc = sub.add_parser(
        "schema",
        help="create or upgrade the Cassandra schema",
        description="The Cassandra keyspace and tables (the embedded SQLite store needs none).",
    )
    scs = sc.add_subparsers(dest="schema_cmd", required=True, metavar="COMMAND")
    schema_help = {
        "apply": "create the keyspace or upgrade it to this version's schema (idempotent);"
        " exits non-zero unless it ends at the version the server needs",
        "status": "show the keyspace's schema version; exit 0 if current, 3 if missing or"
        " outdated, 1 if Cassandra cannot be reached",
    }
    for name, text in schema_help.items():
        c = scs.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        c.add_argument("--store", help="cassandra://host:9042/keyspace?dc=... (or S3FRONT_STORE)")
        if name == "apply":
            c.add_argument(
                "--strategy",
                default="SimpleStrategy",
                choices=["SimpleStrategy", "NetworkTopologyStrategy"],
                help="replication strategy of a new keyspace (default SimpleStrategy)",
            )
            c.add_argument(
                "--replication",
                default="1",
                help="replication factor (SimpleStrategy) or dc1:3,dc2:3",
            )
            c.add_argument(
                "--deadline",
                type=float,
                help="seconds to keep retrying while the cluster settles (nodes disagreeing on"
                " the schema, a node restarting); default 120 or S3FRONT_SCHEMA_DEADLINE",
            )
    sc.set_defaults(func=cmd_schema)

    k = sub.add_parser(
        "keys",
        help="manage access keys",
        description="Access keys of tenants. Secrets are printed once (create, rotate).",
    )
    ks = k.add_subparsers(dest="keys_cmd", required=True, metavar="COMMAND")
    kc = ks.add_parser("create", help="a new access key for a tenant; prints its secret once")
    kc.add_argument("--tenant", required=True, help="tenant name (or canonical id)")
    kc.add_argument("--display-name", help="owner display name (default: the tenant name)")
    ks.add_parser("list", help="every access key: tenant, display name, status (no secrets)")
    kr = ks.add_parser("revoke", help="revoke an access key (it stops authenticating)")
    kr.add_argument("access_key", help="the access key id")
    kt = ks.add_parser("rotate", help="new key for the same tenant; the old one is revoked")
    kt.add_argument("access_key", help="the access key id to replace")
    for c in (kc, ks.choices["list"], kr, kt):
        c.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    k.set_defaults(func=cmd_keys)

    g = sub.add_parser("gc", help="delete blocks and manifests that nothing references")
    g.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    g.add_argument(
        "--grace",
        type=_grace,
        default=None,
        help="seconds garbage is kept before it may be freed; writes in progress are safe at"
        " any value, 0 included (default S3FRONT_GC_GRACE, else 86400)",
    )
    g.set_defaults(func=cmd_gc)
    lc = sub.add_parser("lifecycle", help="apply the buckets' lifecycle rules")
    lcs = lc.add_subparsers(dest="lifecycle_cmd", required=True)
    lr = lcs.add_parser("run", help="one pass over every bucket (e.g. from a CronJob)")
    lr.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    lr.set_defaults(func=cmd_lifecycle)
    mg = sub.add_parser(
        "migrate",
        help="copy an embedded store into Cassandra (resumable; verifies at the end)",
        description="Copy everything an embedded (SQLite) store keeps into a Cassandra keyspace"
        " at the current schema version: keys, buckets and their configurations, every object"
        " version, uploads in progress, blocks. The source is only read. Run it again after an"
        " interruption: it resumes. Exit 0 if the verification passed.",
    )
    mg.add_argument("--from", dest="source", required=True, help="sqlite:///path of the store")
    mg.add_argument(
        "--to", dest="target", required=True, help="cassandra://host:9042/keyspace?dc=..."
    )
    mg.add_argument(
        "--sample",
        type=int,
        default=100,
        help="object versions read back in full from both stores at the end (default 100)",
    )
    mg.set_defaults(func=cmd_migrate)
    st = sub.add_parser("stats", help="logical vs stored bytes and the dedup ratio")
    st.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    st.set_defaults(func=cmd_stats)
    from s3front import kms_cli  # the SSE-KMS key ring (s3front.kms_cli)

    kms_cli.add_parser(sub)

    hc = sub.add_parser(
        "healthcheck",
        help="exit 0 if the local server answers /-/healthz (for a container HEALTHCHECK)",
        description="Ask the server described by the same settings as `serve` (S3FRONT_*"
        " variables, --config) for /-/healthz, on its port and scheme; exit 0 if it answers 200.",
    )
    hc.add_argument("--config", help="TOML configuration file (as for serve)")
    hc.add_argument(
        "--timeout", type=float, default=4.0, help="seconds to wait for the answer (default 4)"
    )
    hc.set_defaults(func=cmd_healthcheck)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Expected failures end with one line on stderr, not a traceback: bad settings or keys (2),
    # a store that cannot be reached or opened, or a file that cannot be read (1). The messages
    # name settings, files and access key ids, never secrets.
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"s3front: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename:  # e.g. a missing --config file: say which file and why
            print(f"s3front: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        else:
            print(f"s3front: {_one_line(exc)}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"s3front: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())

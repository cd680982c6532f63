"""`s3front kms ...`: the SSE-KMS key ring and master-key rotation from the command line.

    s3front kms create-key [--alias NAME]   a new key (prints its id)
    s3front kms list                        keys: id, alias, versions, created
    s3front kms rotate KEY                  a new version of KEY (id, alias/NAME or ARN)
    s3front kms rotate-master --new-key-env VAR
                                            re-wrap every data key and re-seal every secret
                                            under the master key in $VAR (no data rewritten)

Key material is never printed. Every command needs S3FRONT_MASTER_KEY (the key ring is sealed
by it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

from s3front import config, kms


def add_parser(sub: Any) -> None:
    k = sub.add_parser("kms", help="the SSE-KMS key ring and master-key rotation")
    ks = k.add_subparsers(dest="kms_cmd", required=True)
    c = ks.add_parser("create-key", help="a new key of the key ring")
    c.add_argument("--alias", default="", help="alias (aws/s3 is used when a request names none)")
    ks.add_parser("list", help="the keys of the key ring (never their material)")
    r = ks.add_parser("rotate", help="add a new version to a key (old versions stay)")
    r.add_argument("key", help="key id, alias/NAME or ARN")
    m = ks.add_parser(
        "rotate-master",
        help="re-wrap data keys and re-seal secrets under a new master key (resumable)",
    )
    m.add_argument(
        "--new-key-env",
        required=True,
        help="name of the environment variable holding the new master key (never on the "
        "command line, where other users can read it)",
    )
    for p in (c, ks.choices["list"], r, m):
        p.add_argument("--store", help="store URL (or S3FRONT_STORE)")
    k.set_defaults(func=cmd_kms)


def cmd_kms(args: argparse.Namespace) -> int:
    return asyncio.run(_kms(args))


async def _kms(args: argparse.Namespace) -> int:
    from s3front.store import open_store

    settings = config.load({"store": getattr(args, "store", None)})
    master = settings.master_key
    store = await open_store(str(settings.store))
    try:
        if args.kms_cmd == "create-key":
            key = await kms.create_key(store.keys, master, args.alias)
            print(f"key id: {key.key_id}\nalias:  {'alias/' + key.alias if key.alias else '-'}")
        elif args.kms_cmd == "list":
            print("KEY ID\tALIAS\tVERSIONS\tCREATED")
            for key in sorted(await kms.list_keys(store.keys, master), key=lambda k: k.created_ms):
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.created_ms / 1000))
                alias = "alias/" + key.alias if key.alias else "-"
                print(f"{key.key_id}\t{alias}\t{len(key.versions)}\t{created}")
        elif args.kms_cmd == "rotate":
            key = await kms.rotate_key(store.keys, master, args.key)
            print(f"key id: {key.key_id}\nversions: {len(key.versions)}")
        elif args.kms_cmd == "rotate-master":
            from s3front.rotation import rotate_master

            new = os.environ.get(args.new_key_env, "")
            if not new:
                raise kms.KmsError(f"{args.new_key_env} is not set")
            config.decode_master_key(new)  # a clear error (naming the setting) for a bad key
            report = await rotate_master(store, master, new, progress=_progress())
            print(report.summary())
            print("now restart every server with S3FRONT_MASTER_KEY set to the new key")
        return 0
    except kms.KmsError as exc:
        print(f"s3front: {exc}", file=sys.stderr)
        return 2
    finally:
        await store.close()


def _progress() -> Any:
    def show(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    return show

"""``moviestore keys create|list|revoke``: the API's keys.

``create`` prints the new key once: only its SHA-256 is stored, so it cannot be shown again
(lost, revoke it and make another). A revocation takes effect in every API process within
``MOVIESTORE_API_KEY_POLL_SECONDS`` (1 s by default; docs/api.md, "Keys").
"""

from __future__ import annotations

import argparse
import re

import orjson
import psycopg

from moviestore.settings import get_settings
from moviestore.store import keys as stored

RATE = re.compile(r"([1-9][0-9]{0,6})(?:/s)?")
DEFAULT_RATE = 10


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    sub = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="make a key; it is printed once")
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument(
        "--provider", help="a provider's key: it reads that provider's ingestions, no others"
    )
    create.add_argument(
        "--rate", default=f"{DEFAULT_RATE}/s", type=rate,
        help=f"requests a second, e.g. 50/s (default {DEFAULT_RATE}/s; the burst is as many)",
    )  # fmt: skip
    sub.add_parser("list", help="one JSON line per key (never the key itself)")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (ms_<id>_...)")
    revoke.add_argument("key_id")
    p.set_defaults(run=run)


def rate(text: str) -> int:
    found = RATE.fullmatch(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError("a rate is requests a second, e.g. 50/s (1 to 9999999)")
    return int(found.group(1))


def run(args: argparse.Namespace) -> int:
    url = get_settings().database_url.get_secret_value()
    with psycopg.connect(url, autocommit=True) as conn:
        if args.keys_command == "create":
            return create(conn, args)
        if args.keys_command == "list":
            for key in stored.listed(conn):
                print(orjson.dumps(key).decode())
            return 0
        if stored.revoke(conn, args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"no live key has id {args.key_id}")
        return 1


def create(conn: psycopg.Connection, args: argparse.Namespace) -> int:
    # Imported here: `moviestore api` must load the API's metrics only after it has set their
    # multiprocess mode, and every command is imported by the command line.
    from moviestore.api.keys import digest, new_key  # noqa: PLC0415
    from moviestore.api.params import PROVIDER_PATTERN  # noqa: PLC0415

    if args.provider is not None and not PROVIDER_PATTERN.fullmatch(args.provider):
        print("a provider is lower-case letters, digits and single dashes")
        return 2
    key_id, key = new_key()
    stored.create(conn, key_id=key_id, secret_sha256=digest(key), name=args.name,
                  provider=args.provider, rate=args.rate)  # fmt: skip
    print(orjson.dumps({"key_id": key_id, "key": key, "name": args.name,
                        "provider": args.provider, "rate": args.rate}).decode())  # fmt: skip
    return 0

"""``moviestore migrate``: apply the SQL migrations the database does not have yet.

Run once per release before the new code starts (the Kubernetes migration Job). Safe to run
again and from several places at once; exits non-zero when a migration fails.
"""

from __future__ import annotations

import argparse
import sys

from moviestore.settings import get_settings
from moviestore.store.migrate import available, migrate


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.add_argument(
        "--database-url",
        help="instead of MOVIESTORE_DATABASE_URL (which keeps the password out of ps)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    url = args.database_url or get_settings().database_url.get_secret_value()
    applied = migrate(url)
    latest = available()[-1]
    if applied:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied)
        print(f"applied {names}; schema at version {latest.version}")
    else:
        print(f"nothing to do; schema at version {latest.version}")
    sys.stdout.flush()
    return 0

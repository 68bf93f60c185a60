"""The ``moviestore`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from moviestore import __version__
from moviestore.commands import (
    api,
    bench,
    dev,
    dlq,
    ingestions,
    migrate,
    upload,
    validate,
    worker,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moviestore", description="moviestore: catalog validation, ingestion and API."
    )
    parser.add_argument("--version", action="version", version=f"moviestore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate.register(commands)
    migrate.register(commands)
    upload.register(commands)
    worker.register(commands)
    api.register(commands)
    dlq.register(commands)
    ingestions.register(commands)
    dev.register(commands)
    bench.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ValidationError as e:
        # Settings come from MOVIESTORE_* variables: say which are missing or wrong, no traceback.
        print(
            f"moviestore: invalid settings (MOVIESTORE_* environment variables):\n{e}",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())

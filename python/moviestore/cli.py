"""The ``moviestore`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from moviestore import __version__
from moviestore.commands import validate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moviestore", description="moviestore: catalog validation, ingestion and API."
    )
    parser.add_argument("--version", action="version", version=f"moviestore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The ``moviestore`` command.

Every subcommand is listed here with its one-line help; only the one chosen is imported (its
module in ``moviestore.commands`` defines its options and runs it), so ``moviestore validate``
never loads boto3, pydantic or the API, and ``--help`` and ``--version`` load no command at all.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import signal
import sys
from collections.abc import Collection, Sequence

from moviestore import __version__
from moviestore.commands import EXIT_INTERRUPTED, EXIT_USAGE


class Command:
    """A subcommand's one-line help and the modules of the ``dev`` extra it needs (without them
    it says which extra to install). A plain class: dataclasses would cost --help 5 ms."""

    def __init__(self, help: str, dev_modules: tuple[str, ...] = ()) -> None:
        self.help, self.dev_modules = help, dev_modules


COMMANDS = {
    "validate": Command("validate provider catalog files"),
    "upload": Command("upload a catalog file for a provider"),
    "dlq": Command("inspect and replay the dead-letter queue"),
    "migrate": Command("apply database migrations"),
    "worker": Command("run the ingestion worker"),
    "api": Command("serve the catalog API"),
    "keys": Command("create, list and revoke the API's keys"),
    "ingestions": Command("list open claims; confirm or discard a held snapshot"),
    "dev": Command("run the platform locally with sample data", dev_modules=("moto", "flask")),
    "env": Command("print the settings of a running `moviestore dev` as shell exports"),
    "bench": Command("load tests and release gates", dev_modules=("moto", "flask", "locust")),
}


def build_parser(chosen: Collection[str] = COMMANDS.keys()) -> argparse.ArgumentParser:
    """The parser with every command listed and the ``chosen`` ones defined in full."""
    parser = argparse.ArgumentParser(
        prog="moviestore", description="moviestore: catalog validation, ingestion and API."
    )
    parser.add_argument("--version", action="version", version=f"moviestore {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help)
        if name in chosen:
            importlib.import_module(f"moviestore.commands.{name}").configure(sub)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option (the top level has
    only ``--help`` and ``--version``, which take no value)."""
    name = next((word for word in argv if not word.startswith("-")), None)
    return name if name in COMMANDS else None


def missing_dev_modules(name: str) -> list[str]:
    return [m for m in COMMANDS[name].dev_modules if importlib.util.find_spec(m) is None]


def invalid_settings(error: Exception) -> bool:
    """Is ``error`` pydantic's refusal of the settings? Only a command that read them has
    imported pydantic, so the others never pay for importing it here."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(error, pydantic.ValidationError)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    name = chosen_command(argv)
    label = f"moviestore {name}" if name else "moviestore"
    try:
        if name is not None and (missing := missing_dev_modules(name)):
            print(
                f"{label}: needs the development packages ({', '.join(missing)} missing): "
                "pip install 'moviestore[dev]'",
                file=sys.stderr,
            )
            return EXIT_USAGE
        args = build_parser([name] if name else []).parse_args(argv)
        code: int = args.run(args)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except Exception as e:
        if not invalid_settings(e):
            raise
        # Settings come from MOVIESTORE_* variables: say which are missing or wrong, no traceback.
        print(f"{label}: invalid settings (MOVIESTORE_* variables):\n{e}", file=sys.stderr)
        return EXIT_USAGE
    if code == EXIT_INTERRUPTED:
        # A second Ctrl-C from here on ends the process at once, without a traceback.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        print(f"{label}: interrupted", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

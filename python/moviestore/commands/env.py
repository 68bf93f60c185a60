"""``moviestore env``: the settings of a running ``moviestore dev`` as shell exports.

eval "$(moviestore env)"     # points moviestore commands at the local platform
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import orjson

from moviestore.localstack.endpoints import Endpoints


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--state-dir", type=Path, default=Path(".state"))
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    path = args.state_dir / "endpoints.json"
    if not path.exists():
        print(f"moviestore env: {path} not found: is `moviestore dev` running?", file=sys.stderr)
        return 1
    endpoints = Endpoints(**orjson.loads(path.read_bytes()))
    for name, value in endpoints.settings_env().items():
        print(f"export {name}={shlex.quote(value)}")
    return 0

"""Robyn, imported without its side effects on our process.

Importing robyn builds a default ``Config()`` that parses ``sys.argv`` (``moviestore api
--help`` would print Robyn's help and exit) and instantiating ``Robyn`` calls
``logging.basicConfig``; both are kept away from the moviestore command line and logs.
"""

from __future__ import annotations

import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from robyn import Request, Response, Robyn
    from robyn.argument_parser import Config
    from robyn.events import Events
    from robyn.robyn import Server, SocketHeld
finally:
    sys.argv = _argv

__all__ = ["Config", "Events", "Request", "Response", "Robyn", "Server", "SocketHeld", "new_app"]


def new_app(path: str) -> Robyn:
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        config = Config()
    finally:
        sys.argv = argv
    config.disable_openapi = True  # ours is served from moviestore.api.openapi
    config.log_level = "WARNING"
    return Robyn(path, config=config)

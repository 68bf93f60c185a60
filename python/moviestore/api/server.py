"""Running the API: a small supervisor and ``api_processes`` Robyn server processes.

Robyn 0.88 gets shutdown wrong in both of its modes: one process keeps running (and its socket
keeps accepting) after SIGTERM, skipping shutdown handlers; ``--processes N`` kills its children
without draining. So ``moviestore api`` runs its own:

* the supervisor checks that the port can be bound (failing fast when it is taken), forks the
  server processes, each of which listens on a socket of its own on that port (SO_REUSEPORT:
  the kernel spreads connections over them), and on SIGTERM/SIGINT passes SIGTERM on and
  waits (bounded), then exits 0; a server process dying on its own stops the rest, exit 1;
* each server process, on SIGTERM, lets actix stop accepting and finish the requests in hand
  (Robyn's runtime drains on SIGTERM), waits until none is left in Python or the grace period
  ends, closes its pools and exits 0. It closes its listening socket when it starts draining,
  so nothing keeps accepting connections that no one will serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import uvloop

from moviestore.api.app import REQUEST_IDS, Api, create_app
from moviestore.api.bootstrap import Components, compose
from moviestore.api.framework import Events, Robyn, Server, SocketHeld
from moviestore.api.search_index import Segments
from moviestore.logs import event
from moviestore.settings import Settings

log = logging.getLogger("moviestore.api")

PR_SET_PDEATHSIG = 1
# A draining server process exits once no request has been in Python for this long.
SETTLE_SECONDS = 0.3


def serve(settings: Settings) -> int:
    with segments_directory(settings) as segments:
        try:
            components = compose(settings, segments)
        except ValueError as e:  # a Redis URL the API's client cannot honour; never quoted
            event(log, logging.ERROR, "invalid settings for the API", error=str(e))
            return 2
        return serve_with(settings, components)


@contextlib.contextmanager
def segments_directory(settings: Settings) -> Iterator[Path | None]:
    """Where the server processes share their search index bases: the configured directory
    (emptied now: whatever is in it was made by an earlier run), else one made for this run
    in memory-backed /dev/shm when there is one (removed at the end)."""
    if not settings.api_search_index:
        yield None
        return
    if settings.api_search_index_dir is not None:
        directory = Path(settings.api_search_index_dir)
        directory.mkdir(parents=True, exist_ok=True)
        Segments(directory).clear()
        yield directory
        return
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    made = Path(tempfile.mkdtemp(prefix="moviestore-index-", dir=parent))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def serve_with(settings: Settings, components: Components) -> int:
    app, api = create_app(components)
    try:  # the port taken: fail now, not in each server process
        SocketHeld(settings.api_host, settings.api_port)  # bound, then dropped: closed at once
    except OSError as e:
        event(log, logging.ERROR, "cannot listen", host=settings.api_host,
              port=settings.api_port, error=str(e))  # fmt: skip
        return 1
    children: dict[int, int] = {}
    for index in range(settings.api_processes):
        pid = os.fork()
        if pid == 0:
            run_server_process(settings=settings, app=app, api=api, components=components)
        children[pid] = index
    event(log, logging.INFO, "api started", port=settings.api_port,
          processes=settings.api_processes, workers=settings.api_workers)  # fmt: skip
    return supervise(children, settings.api_shutdown_grace_seconds + 5)


def supervise(children: dict[int, int], bound_seconds: float) -> int:
    """0 once the server processes stopped cleanly on SIGTERM, 130 on Ctrl-C (SIGINT), 1 if
    one of them failed."""
    stopping = threading.Event()
    interrupted = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal interrupted
        if not stopping.is_set():
            stopping.set()
            interrupted = signum == signal.SIGINT
            event(log, logging.INFO, "stopping", signal=signal.Signals(signum).name)
            for pid in children:
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    deadline: float | None = None
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if stopping.is_set():
                deadline = deadline or time.monotonic() + bound_seconds
                if time.monotonic() > deadline:
                    for straggler in children:
                        os.kill(straggler, signal.SIGKILL)
            time.sleep(0.05)
            continue
        children.pop(pid, None)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or not stopping.is_set():
            failed = True
            event(log, logging.ERROR, "server process exited", pid=pid, code=code)
            if not stopping.is_set():
                stop(signal.SIGTERM, None)
    event(log, logging.INFO, "api stopped", clean=not failed)
    if failed:
        return 1
    return 128 + signal.SIGINT if interrupted else 0  # as a shell reports a Ctrl-C


def run_server_process(
    *, settings: Settings, app: Robyn, api: Api, components: Components
) -> NoReturn:
    started = threading.Event()
    running: dict[str, Any] = {}

    async def startup() -> None:
        # Robyn runs this on its event loop before serving: the pools live on that loop.
        await components.open()
        calm_gc()
        running.update(loop=asyncio.get_running_loop())
        started.set()

    def drain() -> None:
        if api.draining:  # SIGTERM from both the supervisor and a process-group kill
            return
        api.draining = True
        started.wait(30)  # a SIGTERM during start-up drains once the pools exist
        # Robyn's runtime closes its copy of the socket when it stops accepting; closing ours
        # makes new connections fail at once instead of waiting in a queue no one reads.
        with contextlib.suppress(OSError):
            os.close(listen_fd)
        finish(settings, api, components, running.get("loop"))

    try:
        # The supervisor being killed outright must not leave servers running.
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        # A socket of this process's own on the shared port (SO_REUSEPORT): the kernel spreads
        # new connections over the processes' sockets by a hash of their addresses. One socket
        # shared by all, whichever process woke first took a burst of connections, often every
        # one of them (seen: wrk's 8 connections 1 to 7 or 0 to 8; with 0 to 8 one process
        # served everything, at a core's speed, while the other idled).
        socket, listen_fd = listening_socket(settings.api_host, settings.api_port)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor turns Ctrl-C into SIGTERM
        REQUEST_IDS.reseed()
        # Installed before the runtime starts: Robyn's own handler then chains to ours.
        signal.signal(
            signal.SIGTERM, lambda *_: threading.Thread(target=drain, daemon=True).start()
        )
        # Robyn makes its own event loop for the handlers: uvloop's, through the policy.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.set_event_loop(asyncio.new_event_loop())
        app.startup_handler(startup)
        # Serves until the process ends. (Robyn 0.88's stub lists two timeouts that its
        # binary does not take.)
        build_server(app).start(socket, settings.api_workers)  # type: ignore[call-arg]
        asyncio.get_event_loop().run_forever()
    except BaseException:
        log.exception("server process failed")
        os._exit(1)
    os._exit(0)


def calm_gc() -> None:
    """Python's cyclic GC stops the process's one handler thread while it runs, and by default
    it runs every 700 net allocations (an uncached list answer makes hundreds), its full
    collections walking every object the process holds. Objects made at start-up (modules,
    the app, the pools) are frozen out of collections, and the youngest generation is
    collected every 50,000 allocations: measured (2 processes, uncached title and genre+year
    walks at 8 connections, alternated 6 s runs): p99 19-109 ms before, 14-26 ms after."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def listening_socket(host: str, port: int) -> tuple[SocketHeld, int]:
    """Robyn's socket and its file descriptor (SocketHeld does not tell it; it is the one
    descriptor that appears while it is made, in this still single-threaded process)."""
    before = set(os.listdir("/proc/self/fd"))
    socket = SocketHeld(host, port)
    added = set(os.listdir("/proc/self/fd")) - before
    if len(added) != 1:
        raise RuntimeError(f"cannot tell the listening socket's descriptor among {added}")
    return socket, int(added.pop())


def finish(
    settings: Settings,
    api: Api,
    components: Components,
    loop: asyncio.AbstractEventLoop | None,
) -> None:
    deadline = time.monotonic() + settings.api_shutdown_grace_seconds
    # Done when no request has been in Python for SETTLE_SECONDS: a handler that just returned
    # has its answer still to be written by Robyn's runtime, and requests read before the
    # socket closed may still be on their way in.
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if api.inflight > 0:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_SECONDS:
            break
        time.sleep(0.01)
    left = api.inflight
    if loop is not None:
        try:
            asyncio.run_coroutine_threadsafe(components.close(), loop).result(timeout=5)
        except Exception:
            log.warning("pools did not close cleanly", exc_info=True)
    event(log, logging.INFO, "server process drained", unfinished_requests=left)
    sys.stdout.flush()
    os._exit(0 if left == 0 else 1)


def build_server(app: Robyn) -> Server:
    """What Robyn's ``spawn_process`` does, minus its signal handling and socket lifetime."""
    server = Server()  # no static directories: this API serves none
    server.apply_request_headers(app.request_headers)
    server.apply_response_headers(app.response_headers)
    server.set_response_headers_exclude_paths(app.excluded_response_headers_paths)
    for route in app.router.get_routes():
        server.add_route(route.route_type, route.route, route.function, route.is_const)
    for kind, function in app.middleware_router.get_global_middlewares():
        server.add_global_middleware(kind, function)
    for kind, endpoint, function, route_type in app.middleware_router.get_route_middlewares():
        server.add_middleware_route(kind, endpoint, function, route_type)
    if Events.STARTUP in app.event_handlers:
        server.add_startup_handler(app.event_handlers[Events.STARTUP])
    return server

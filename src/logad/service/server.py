"""Running the service under uvicorn: in the foreground (`serve`, what `logad serve` calls) or in a
thread (`start_in_thread`, for tests and tools). The listening socket is made here, so its port
is known before the first request (port 0 picks a free one)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

from logad.errors import InputError, require
from logad.service.config import ServeConfig
from logad.service.service import Service

log = logging.getLogger("logad.service")


def make_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_server(service: Service):
    uvicorn = require("uvicorn", "serve")
    import importlib.util

    from logad.service.app import create_app

    routers, public = [], ()
    if service.config.dashboard:
        from logad.service.dashboard import PUBLIC, dashboard_router

        routers, public = [dashboard_router()], PUBLIC
    cfg = uvicorn.Config(
        create_app(service, routers=routers, public=public), log_config=None, access_log=service.config.access_log, lifespan="off",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        timeout_keep_alive=30, limit_concurrency=1000, server_header=False, timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(cfg)

    def handle_exit(sig, frame) -> None:
        # stop gracefully, then return from run() (uvicorn's own handler re-raises the signal after
        # its shutdown, which would end the process before the service's final checkpoint)
        if server.should_exit:
            server.force_exit = True
        service.closing = True  # waiting requests (GET /v1/alarms?wait=) answer now
        server.should_exit = True
        log.info("signal %d: stopping", sig)

    server.handle_exit = handle_exit
    return server


@dataclass
class Running:
    """A service answering HTTP in a background thread."""

    service: Service
    server: object
    thread: threading.Thread
    url: str

    def stop(self, timeout: float = 30.0) -> None:
        self.service.closing = True  # waiting requests (GET /v1/alarms?wait=) answer now
        self.server.should_exit = True
        self.thread.join(timeout=timeout)
        self.service.stop(timeout=timeout)


def start_in_thread(config: ServeConfig, timeout: float = 60.0) -> Running:
    """Start the service and its HTTP server in a thread; returns once it answers."""
    service = Service(config)
    sock = make_socket(service.config.host, service.config.port)
    try:
        service.start()
    except BaseException:
        sock.close()
        service.stop()
        raise
    server = _uvicorn_server(service)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="logad-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            service.stop()
            raise InputError("the HTTP server did not start")
        time.sleep(0.01)
    host, port = sock.getsockname()[:2]
    return Running(service, server, thread, f"http://{_url_host(host)}:{port}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def freeze_heap() -> None:
    """Move every object alive now (the model, the parser, the libraries: a few hundred thousand)
    out of the cyclic garbage collector's sight: what the service allocates from here on (lines,
    events, sequences) is collected as before, but no collection walks the model again. Without
    this, the collections that the events of every request trigger walk the whole heap, a third
    of the server's CPU time at 100,000 lines/s. For the process that is the service (`serve`)."""
    import gc

    gc.collect()
    gc.freeze()


def serve(config: ServeConfig) -> int:
    """Run in the foreground until SIGINT/SIGTERM (or the end of --stdin); 0 on a clean stop."""
    service = Service(config)
    sock = make_socket(service.config.host, service.config.port)
    try:
        service.start()
        server = _uvicorn_server(service)
        freeze_heap()
        host, port = sock.getsockname()[:2]
        log.info("listening on http://%s:%d%s", _url_host(host), port,
                 " (bearer token required)" if service.config.token_file else "")
        if service.config.stdin:
            def watch() -> None:
                service.stdin_done.wait()
                server.should_exit = True

            threading.Thread(target=watch, name="logad-stdin-watch", daemon=True).start()
        server.run(sockets=[sock])
    finally:
        sock.close()
        service.stop()
    return 1 if service.failed is not None else 0

"""Running the sandbox in-process: `async with running() as sb: ...`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from .app import create_app
from .client import ControlClient
from .state import Sandbox


@dataclass(frozen=True)
class RunningSandbox:
    sandbox: Sandbox
    url: str
    client: ControlClient

    @property
    def base_url(self) -> str:
        """For PTB's ApplicationBuilder().base_url(...) / Bot(base_url=...)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def control_url(self) -> str:
        return f"{self.url}/control"

    @property
    def token(self) -> str:
        return self.sandbox.token


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The host process (a test run, `nodedesk demo`) owns SIGINT/SIGTERM, not us.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on the running loop and yield its URL.

    Port 0 picks a free port. Tests use this for webhook receivers as well.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _EmbeddedServer(config)
    serving = asyncio.create_task(server.serve(), name=f"uvicorn {host}:{port}")
    ready = asyncio.create_task(server.ready.wait())
    await asyncio.wait({serving, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not server.ready.is_set():
        ready.cancel()
        serving.result()  # re-raises what went wrong, if anything did
        raise RuntimeError(f"could not listen on {host}:{port}")
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    display_host = f"[{host}]" if ":" in host else host
    try:
        yield f"http://{display_host}:{bound_port}"
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def running(
    sandbox: Sandbox | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox (a default one if not given) on this event loop."""
    sandbox = sandbox or Sandbox()
    sandbox.closed = False
    async with serve_app(create_app(sandbox), host=host, port=port, log_level=log_level) as url:
        client = ControlClient(f"{url}/control")
        try:
            yield RunningSandbox(sandbox, url, client)
        finally:
            await client.aclose()
            # Closing first releases long polls and held requests, so shutdown need not wait.
            await sandbox.close()

"""The Starlette application: Bot API, file downloads, control API and web chat."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from .botapi import BotApi, bot_endpoint, file_endpoint
from .control import control_routes
from .state import Sandbox
from .webchat import webchat_page


def create_app(sandbox: Sandbox) -> Starlette:
    app = Starlette(
        routes=[
            Route("/", webchat_page, methods=["GET"]),
            # PTB builds f"{base_url}{token}/{method}", so base_url ".../bot" lands here.
            Route("/bot{token}/{method}", bot_endpoint, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", file_endpoint, methods=["GET"]),
            *control_routes(),
        ]
    )
    app.state.sandbox = sandbox
    app.state.bot_api = BotApi(sandbox)
    return app

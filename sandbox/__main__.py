"""python -m sandbox: serve the fake Bot API, control API and web chat standalone."""

from __future__ import annotations

import argparse
import asyncio
import signal

from .faults import FaultConfig
from .ratelimit import RateLimits
from .server import running
from .state import DEFAULT_TOKEN, Sandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the bot token to accept")
    parser.add_argument("--bot-username", default="nodedesk_bot")
    parser.add_argument("--bot-name", default="Nodedesk", help="the bot's first_name")
    parser.add_argument(
        "--privacy-mode", action="store_true", help="in groups, see only commands and replies"
    )
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault injection")
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    sandbox = Sandbox(
        args.token,
        bot_username=args.bot_username,
        bot_first_name=args.bot_name,
        privacy_mode=args.privacy_mode,
        rate_limits=RateLimits(enabled=not args.no_rate_limits),
        faults=FaultConfig(),
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(sandbox, host=args.host, port=args.port, log_level=args.log_level) as sb:
        print(f"Telegram sandbox for @{sandbox.bot.username} (token {sandbox.token})")
        print(f"  web chat     {sb.url}/")
        print(f"  base_url     {sb.base_url}")
        print(f"  base_file_url {sb.base_file_url}")
        print(f"  control API  {sb.control_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()

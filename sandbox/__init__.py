"""A local fake of the Telegram Bot API, with a control API and a web chat (docs/sandbox.md)."""

from .app import create_app
from .client import ControlClient, ControlError
from .errors import ApiError, SandboxError
from .faults import FaultConfig, OneShotFault
from .ratelimit import RateLimits, Window
from .server import RunningSandbox, running
from .state import DEFAULT_TOKEN, ClockAdvance, ClockNow, Sandbox

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ClockAdvance",
    "ClockNow",
    "ControlClient",
    "ControlError",
    "FaultConfig",
    "OneShotFault",
    "RateLimits",
    "RunningSandbox",
    "Sandbox",
    "SandboxError",
    "Window",
    "create_app",
    "running",
]

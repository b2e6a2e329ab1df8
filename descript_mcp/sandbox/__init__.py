"""A local simulator of Descript's REST API. Imports nothing from the client side."""

from descript_mcp.sandbox.app import RequestRecord, Sandbox
from descript_mcp.sandbox.config import (
    DEFAULT_TOKEN,
    OTHER_DRIVE_TOKEN,
    DriveConfig,
    JobTimings,
    SandboxConfig,
)
from descript_mcp.sandbox.faults import Fault
from descript_mcp.sandbox.server import serve, serve_app

__all__ = [
    "DEFAULT_TOKEN",
    "OTHER_DRIVE_TOKEN",
    "DriveConfig",
    "Fault",
    "JobTimings",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "serve",
    "serve_app",
]

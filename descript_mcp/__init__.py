"""descript-mcp: drive Descript from AI assistants over MCP, with a built-in sandbox.

The client layer (this package's top level) imports no MCP code. Its names are loaded on
first use (PEP 562), so importing the server does not pay for the HTTP client before the first
tool call needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from descript_mcp._version import __version__

_HOMES = {
    "APIConnectionError": "descript_mcp.errors",
    "APIError": "descript_mcp.errors",
    "APIStatusError": "descript_mcp.errors",
    "APITimeoutError": "descript_mcp.errors",
    "API_KEY_ENV": "descript_mcp.settings",
    "API_URL_ENV": "descript_mcp.settings",
    "AuthenticationError": "descript_mcp.errors",
    "BadRequestError": "descript_mcp.errors",
    "ConfigurationError": "descript_mcp.errors",
    "ConflictError": "descript_mcp.errors",
    "DEFAULT_API_URL": "descript_mcp.settings",
    "DescriptClient": "descript_mcp.client.api",
    "DescriptError": "descript_mcp.errors",
    "DuplicateSubmissionError": "descript_mcp.errors",
    "HistoryUnavailableError": "descript_mcp.errors",
    "InvalidIdError": "descript_mcp.errors",
    "LocalFileError": "descript_mcp.errors",
    "NO_RETRIES": "descript_mcp.client.retry",
    "NotFoundError": "descript_mcp.errors",
    "PaymentRequiredError": "descript_mcp.errors",
    "PermissionDeniedError": "descript_mcp.errors",
    "PollSchedule": "descript_mcp.client.waiter",
    "ProgressUpdate": "descript_mcp.client.waiter",
    "PublishInProgressError": "descript_mcp.errors",
    "RateLimitError": "descript_mcp.errors",
    "ResponseFormatError": "descript_mcp.errors",
    "RetryPolicy": "descript_mcp.client.retry",
    "SealedSecretError": "descript_mcp.errors",
    "ServerError": "descript_mcp.errors",
    "UnconfirmedSubmissionError": "descript_mcp.errors",
    "UnprocessableEntityError": "descript_mcp.errors",
    "UploadURLsLostError": "descript_mcp.errors",
    "wait_for_job": "descript_mcp.client.waiter",
}

__all__ = [
    "API_KEY_ENV",
    "API_URL_ENV",
    "DEFAULT_API_URL",
    "NO_RETRIES",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "DescriptClient",
    "DescriptError",
    "DuplicateSubmissionError",
    "HistoryUnavailableError",
    "InvalidIdError",
    "LocalFileError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollSchedule",
    "ProgressUpdate",
    "PublishInProgressError",
    "RateLimitError",
    "ResponseFormatError",
    "RetryPolicy",
    "SealedSecretError",
    "ServerError",
    "UnconfirmedSubmissionError",
    "UnprocessableEntityError",
    "UploadURLsLostError",
    "__version__",
    "wait_for_job",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'descript_mcp' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

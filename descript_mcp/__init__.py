"""descript-mcp: drive Descript from AI assistants over MCP, with a built-in sandbox.

The client layer (this package's top level) imports no MCP code.
"""

from descript_mcp._retry import NO_RETRIES, RetryPolicy
from descript_mcp._version import __version__
from descript_mcp.client import API_KEY_ENV, API_URL_ENV, DEFAULT_API_URL, DescriptClient
from descript_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DescriptError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PublishInProgressError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    UnconfirmedSubmissionError,
    UnprocessableEntityError,
)
from descript_mcp.jobs import PollSchedule, ProgressUpdate, wait_for_job

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
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PollSchedule",
    "ProgressUpdate",
    "PublishInProgressError",
    "RateLimitError",
    "ResponseFormatError",
    "RetryPolicy",
    "ServerError",
    "UnconfirmedSubmissionError",
    "UnprocessableEntityError",
    "__version__",
    "wait_for_job",
]

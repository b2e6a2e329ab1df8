"""The Descript API client: requests and their retries, the answers' models, waiting for a job,
and submitting a job exactly once. It imports nothing of MCP.

Its names are imported from their modules (`descript_mcp.client.api.DescriptClient`), or from
the package's top level (`from descript_mcp import DescriptClient`), which loads them on first
use: a server starting up does not pay for the HTTP stack.
"""

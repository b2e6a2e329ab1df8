"""Serving MCP over HTTP: the transports' app, the gate in front of it, and job callbacks."""

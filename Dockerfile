# descript-mcp over streamable HTTP. Build: docker build -t descript-mcp .
# Run:   docker run -p 8000:8000 -v descript-mcp:/data descript-mcp
#        (clients send their Descript token as Authorization: Bearer <token>)
# OAuth: add -e DESCRIPT_MCP_AUTH=oauth -e DESCRIPT_MCP_PUBLIC_URL=https://mcp.example.com
#        -e DESCRIPT_MCP_SECRET_KEY=<32 random bytes, base64url> (see docs/hosting.md)
# Sandbox: docker run -p 8000:8000 descript-mcp serve --sandbox
# Stop:  SIGTERM drains for up to DESCRIPT_MCP_DRAIN_SECONDS (20): give it --stop-timeout 30.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY descript_mcp ./descript_mcp
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir '.[postgres,metrics,tracing]'

FROM python:3.11-slim
LABEL org.opencontainers.image.title="descript-mcp" \
      org.opencontainers.image.description="MCP server for Descript, the audio and video editor" \
      org.opencontainers.image.licenses="MIT" \
      io.modelcontextprotocol.server.name="io.github.descript-mcp/descript-mcp"
RUN useradd --create-home --uid 10001 descript && mkdir /data && chown descript /data
COPY --from=build /opt/venv /opt/venv
# 0.0.0.0 inside the container; DNS-rebinding protection stays on and accepts loopback names,
# plus the published host when given: -e DESCRIPT_MCP_ALLOWED_HOSTS=mcp.example.com
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DESCRIPT_MCP_TRANSPORT=http \
    DESCRIPT_MCP_HOST=0.0.0.0 \
    DESCRIPT_MCP_PORT=8000 \
    DESCRIPT_MCP_HISTORY=/data/history.sqlite3
VOLUME /data
USER descript
EXPOSE 8000
# Liveness: the process and its lifespan run (readiness, /ready, is the balancer's to ask).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
ENTRYPOINT ["descript-mcp"]
CMD ["serve"]

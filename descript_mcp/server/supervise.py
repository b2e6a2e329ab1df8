"""Background tasks that outlive their failures. The server's lifespan runs a few loops beside
the requests (following jobs again after a restart, forgetting what expired, the replicas'
listener and take-over); an error in one must not end the lifespan, which would leave every
later request failing while the process still looks alive. Each is started again instead,
after a pause that doubles while it keeps failing."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio

logger = logging.getLogger(__name__)

RESTART_FIRST, RESTART_MOST = 0.5, 30.0
# A task that ran this long before failing starts its pauses over.
HEALTHY_AFTER = 60.0
# Failures of each task since the process started, by its name (read by the metrics).
FAILURES: Counter[str] = Counter()


async def supervised(name: str, run: Callable[[], Awaitable[object]]) -> None:
    """Run `run` until it returns; whenever it raises, log why and run it again."""
    pause = RESTART_FIRST
    while True:
        started = anyio.current_time()
        try:
            await run()
            return
        except Exception:
            FAILURES[name] += 1
            logger.exception("the background task %r failed; starting it again", name)
        if anyio.current_time() - started > HEALTHY_AFTER:
            pause = RESTART_FIRST
        await anyio.sleep(pause)
        pause = min(pause * 2, RESTART_MOST)

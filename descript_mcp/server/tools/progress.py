"""One tool call's progress notifications, across its phases: uploads, the job, a download.

Progress values only ever increase, as the protocol requires. Transfer phases count bytes; the
job phase counts its share of the call. Notifications are thinned to a few a second.

The end of a phase is told only when another phase follows: the call's result says how it
ended, and a notification sent just before the result can reach the client after it (the MCP
TypeScript client then reports a progress notification for an unknown token as an error).
"""

from __future__ import annotations

import time
from typing import Any

from mcp.server.mcpserver import Context

from descript_mcp.client.waiter import ProgressUpdate
from descript_mcp.server.summaries import outcome_of, quoted

# At most one notification per interval, unless the phase moved by a step or ended.
MIN_INTERVAL = 0.25
MIN_STEP = 0.01


class CallProgress:
    def __init__(self, ctx: Context[Any]) -> None:
        self.ctx = ctx
        self.base = 0.0
        self.last = -1.0
        self._last_fraction = -1.0
        self._sent_at = float("-inf")
        # A phase's end, held back until another phase begins (see the module's docstring).
        self._ended: tuple[float, float, str] | None = None

    async def report(self, done: float, phase_total: float, message: str) -> None:
        """`done` of `phase_total` units of the current phase."""
        fraction = done / phase_total if phase_total else 1.0
        now = time.monotonic()
        ended = fraction >= 1.0
        if (
            not ended
            and now - self._sent_at < MIN_INTERVAL
            and (fraction - self._last_fraction < MIN_STEP)
        ):
            return
        value = self.base + done
        if value <= self.last:
            value = self.last + 1e-3
        self.last, self._last_fraction, self._sent_at = value, fraction, now
        if ended:
            self._ended = (value, self.base + phase_total, message)
            return
        await self.ctx.report_progress(value, total=self.base + phase_total, message=message)

    async def next_phase(self, finished_phase_total: float) -> None:
        """Begin the next phase, telling the end of the one before if it was seen."""
        self.base += finished_phase_total
        self._last_fraction = -1.0
        if self._ended is not None:
            value, total, message = self._ended
            self._ended = None
            await self.ctx.report_progress(value, total=total, message=message)

    async def job_update(self, update: ProgressUpdate, weight: float = 100.0) -> None:
        """A job's progress as this call's job phase, `weight` units long."""
        job = update.job
        percent = 100 if job.is_terminal else min(update.percent or 0, 99)
        if job.is_terminal:
            message = f"finished: {outcome_of(job)} ({update.elapsed:.0f} s)"
        else:
            message = update.job_state
            if update.percent is not None:
                message += f" {update.percent}%"
            message += f" ({update.elapsed:.0f} s)"
            if update.label:  # Descript's words, which a drive's content can be part of
                message += f"; Descript's label, as data: {quoted(update.label)}"
        await self.report(percent / 100 * weight, weight, message)

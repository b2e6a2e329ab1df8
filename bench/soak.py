"""Soak: many jobs through the MCP server while the sandbox injects faults and a teammate
(another token on the same drive, a client of its own) keeps starting jobs on the same
projects, then a reconciliation of what Descript (the sandbox) accepted against what the server
recorded.

    python -m bench.soak [--jobs 300] [--concurrency 8] [--seed 1]

Must be zero: jobs lost, duplicate submissions, tool calls without a result, token leaks,
requests sent before a Retry-After elapsed, the teammate's jobs claimed or cancelled.
Loopback only; bounded in count and time.
"""

from __future__ import annotations

import argparse
import io
import itertools
import logging
import re
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from descript_mcp import DescriptClient, DescriptError, RetryPolicy
from descript_mcp.client.ledger import Submission
from descript_mcp.client.models import AgentEditRequest, ImportMediaRequest
from descript_mcp.client.recovery import QUIET_FOR
from descript_mcp.client.waiter import PollSchedule
from descript_mcp.history import History
from descript_mcp.history.records import owner_of
from descript_mcp.sandbox import Fault, Sandbox, SandboxConfig, serve
from descript_mcp.sandbox.app import RequestRecord
from descript_mcp.sandbox.state import Job as SandboxJob
from descript_mcp.server import build_server
from descript_mcp.settings import Settings

TOKEN = "soak-secret-token-7d3f19"
TEAMMATE = "soak-teammate-token-51c0e2"
# How often the teammate starts a job on one of the newest projects: a busy colleague.
TEAMMATE_PACE = 0.5
JOB_ROUTES = "/jobs/(import/project_media|agent|publish)"
# Faults on the server's requests (the teammate's go through untouched).
FAULTS: list[Fault] = [
    Fault("POST", JOB_ROUTES, status=502, when="after", probability=0.05, times=None),
    Fault("POST", JOB_ROUTES, status=502, when="before", probability=0.05, times=None),
    Fault(
        "POST", JOB_ROUTES, status=429, when="before", probability=0.05, times=None, retry_after=0.2
    ),
    Fault("POST", JOB_ROUTES, kind="drop", when="after", probability=0.03, times=None),
    Fault("POST", JOB_ROUTES, kind="malformed", when="after", probability=0.03, times=None),
    Fault("POST", JOB_ROUTES, kind="stuck", when="after", probability=0.03, times=None),
    Fault(
        "POST", JOB_ROUTES, kind="latency", when="before", probability=0.1, times=None, latency=0.05
    ),
    Fault("GET", r"/jobs/.+", status=503, probability=0.05, times=None),
    Fault("GET", r"/jobs/.+", status=429, probability=0.03, times=None, retry_after=0.1),
    Fault("GET", r"/jobs/.+", kind="drop", probability=0.02, times=None),
    Fault("GET", r"/jobs/.+", kind="malformed", when="after", probability=0.02, times=None),
    Fault("GET", r"/jobs/.+", kind="latency", probability=0.1, times=None, latency=0.05),
    Fault("GET", "/jobs", status=500, probability=0.05, times=None),
    Fault("DELETE", r"/jobs/.+", status=503, probability=0.05, times=None),
]
for _fault in FAULTS:
    _fault.token = TOKEN
RETRIES = RetryPolicy(
    max_attempts=6,
    backoff_initial=0.02,
    backoff_max=0.2,
    max_retry_after=5,
    recovery_delays=(0.0, 0.2, 0.5),
)


@dataclass
class SoakReport:
    jobs_run: int = 0
    accepted: int = 0
    accepted_by_type: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    wrong_final_state: int = 0
    duplicates: int = 0
    without_result: int = 0
    clear_errors: int = 0
    token_leaks: int = 0
    retry_after_violations: int = 0
    unconfirmed: int = 0
    teammate_jobs: int = 0
    wrongly_claimed: int = 0
    beyond_the_limit: int = 0
    others_cancelled: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        faults = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.faults.items()))
        by_type = ", ".join(f"{kind}: {n}" for kind, n in sorted(self.accepted_by_type.items()))
        return [
            (
                "jobs run (tool calls that started a job: imports, agent edits, publishes)",
                str(self.jobs_run),
            ),
            ("jobs the sandbox accepted", f"{self.accepted} ({by_type})"),
            ("faults injected", f"{sum(self.faults.values())} ({faults})"),
            ("jobs lost: neither recorded nor named as a candidate (must be 0)", str(self.lost)),
            (
                "submissions unconfirmed (the caller told the candidates, not to resubmit)",
                str(self.unconfirmed),
            ),
            ("jobs whose recorded final state differs (must be 0)", str(self.wrong_final_state)),
            ("duplicate submissions (must be 0)", str(self.duplicates)),
            ("tool calls without a result (must be 0)", str(self.without_result)),
            ("tool calls answered with a clear error", str(self.clear_errors)),
            ("token leaks (must be 0)", str(self.token_leaks)),
            ("jobs the teammate started on the same projects", str(self.teammate_jobs)),
            (
                "teammate's jobs claimed as the server's (must be 0 beyond the stated limit)",
                f"{self.wrongly_claimed} (beyond it: {self.beyond_the_limit})",
            ),
            ("teammate's jobs cancelled by the server (must be 0)", str(self.others_cancelled)),
            ("requests before Retry-After elapsed (must be 0)", str(self.retry_after_violations)),
            ("run time", f"{self.seconds:.1f} s"),
        ]


async def run_soak(jobs: int = 300, concurrency: int = 8, seed: int = 1) -> SoakReport:
    report = SoakReport()
    started = time.monotonic()
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    package_logger = logging.getLogger("descript_mcp")
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG)
    package_logger.propagate = False  # captured to look for the token, not shown
    # Dropped connections are faults on purpose: uvicorn's tracebacks for them are noise.
    logging.getLogger("uvicorn").setLevel(logging.CRITICAL)
    config = SandboxConfig.for_tests(rate_limit_requests=100_000)
    drive = config.drives[0]
    drive.tokens = (TOKEN, TEAMMATE)
    drive.media_minutes = drive.ai_credits = 1e9  # the teammate spends too
    try:
        with tempfile.TemporaryDirectory() as home:
            history = Path(home) / "history.sqlite3"
            async with Sandbox(config) as sandbox, serve(sandbox) as api:
                sandbox.faults.seed = seed
                sandbox.faults.__post_init__()
                for fault in FAULTS:
                    sandbox.faults.add(fault)
                texts = await _drive(sandbox, api, history, jobs, concurrency, report)
                await _reconcile(sandbox, history, report)
                report.faults = sandbox.faults.injected
                report.retry_after_violations = _early_retries(sandbox.requests)
            secrets = [history.read_bytes().decode("latin-1"), logs.getvalue(), *texts]
            report.token_leaks = sum(text.count(TOKEN) for text in secrets)
    finally:
        package_logger.removeHandler(handler)
        package_logger.propagate = True
    report.seconds = time.monotonic() - started
    return report


async def _teammate(sandbox: Sandbox, api: str, report: SoakReport) -> None:
    """Keeps starting imports and agent edits on the newest projects, until cancelled."""
    async with DescriptClient(TEAMMATE, base_url=api, retry=RETRIES) as client:
        for turn in itertools.count():
            await anyio.sleep(TEAMMATE_PACE)
            newest = sorted(sandbox.world.projects.values(), key=lambda p: p.created_at)[-8:]
            if not newest:
                continue
            project = newest[turn % len(newest)].id
            try:
                if turn % 2:
                    await client.agent_edit(AgentEditRequest(project_id=project, prompt="Mine"))
                else:
                    await client.import_project_media(ImportMediaRequest(project_id=project))
                report.teammate_jobs += 1
            except DescriptError:  # refused or unsure: a teammate shrugs and goes on
                continue


async def _drive(
    sandbox: Sandbox, api: str, history: Path, jobs: int, concurrency: int, report: SoakReport
) -> list[str]:
    settings = Settings(api_key=TOKEN, api_url=api, history_path=history, wait_seconds=3)
    server = build_server(
        settings,
        client_factory=lambda token, ledger: DescriptClient(
            token, base_url=api, retry=RETRIES, ledger=ledger
        ),
        poll_schedule=PollSchedule(initial=0.05, factor=1.5, maximum=0.3),
    )
    sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
    texts: list[str] = []
    numbers = iter(range(jobs))

    async def call(mcp: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        try:
            result = await mcp.call_tool(tool, arguments)
        except Exception as error:  # a call that produced no result at all
            texts.append(repr(error))
            report.without_result += 1
            return None
        text = " ".join(getattr(block, "text", "") for block in result.content)
        texts.append(text)
        if result.is_error:
            # The SDK's text for an unexpected exception names the tool and nothing else.
            if re.fullmatch(r"Error executing tool \w+", text.strip()):
                report.without_result += 1
            else:
                report.clear_errors += 1
            return None
        return result.structured_content

    async def follow(mcp: Client, summary: dict[str, Any] | None) -> dict[str, Any] | None:
        """Keep waiting on a started job a little, as an assistant would, then cancel it."""
        if summary is None:
            return None
        report.jobs_run += 1
        for _ in range(2):
            if summary is None or summary["finished"]:
                return summary
            summary = await call(mcp, "get_job", {"job_id": summary["job_id"], "wait_seconds": 3})
        if summary is not None and not summary["finished"]:
            await call(mcp, "cancel_job", {"job_id": summary["job_id"]})
        return summary

    async def worker(mcp: Client) -> None:
        for number in numbers:
            imported = await follow(
                mcp,
                await call(
                    mcp,
                    "import_media",
                    {
                        "project_name": f"soak-{number}",
                        "add_media": {"sample.wav": {"url": sample}},
                        "add_compositions": [{"name": "Main", "clips": [{"media": "sample.wav"}]}],
                        "wait_seconds": 3,
                    },
                ),
            )
            if imported is None or imported.get("outcome") != "success":
                continue
            # Then, in turn, an agent edit or a publish of the new project: one each at most.
            project = {"project_id": imported["project_id"], "wait_seconds": 3}
            if number % 2:
                await follow(mcp, await call(mcp, "agent_edit", {**project, "prompt": "Tidy"}))
            else:
                await follow(mcp, await call(mcp, "publish", project))

    # One session, its calls made by `concurrency` workers at once: its lifespan (and the
    # followers of every job) lasts until the reconciliation has what it needs.
    async with Client(server) as mcp:
        with anyio.fail_after(600):
            async with anyio.create_task_group() as teammates:
                teammates.start_soon(_teammate, sandbox, api, report)
                async with anyio.create_task_group() as group:
                    for _ in range(concurrency):
                        group.start_soon(worker, mcp)
                teammates.cancel_scope.cancel()
            # The followers record how each job ended: wait until none is left following a job
            # Descript has ended (a stuck job is followed on), however loaded the machine.
            tracker = server.running_state().tracker
            for _ in range(600):
                if not any(
                    sandbox.world.jobs[f.job_id].stopped_at
                    for f in tracker.followed()
                    if f.job_id in sandbox.world.jobs
                ):
                    break
                await anyio.sleep(0.1)
        await mcp.call_tool("list_jobs", {"limit": 1})
    return texts


async def _reconcile(sandbox: Sandbox, history: Path, report: SoakReport) -> None:
    opened = await History.open(history)
    try:
        recorded = {r.job_id: r for r in await opened.jobs.recent(owner_of(TOKEN), limit=100_000)}
        submissions = await opened.submissions.newest(owner_of(TOKEN), limit=100_000)
    finally:
        await opened.aclose()
    unsure = [s for s in submissions if s.state == "unconfirmed"]
    # A job named to the caller as a candidate of an unconfirmed submission is not lost.
    named = {job_id for submission in unsure for job_id in submission.candidates}
    report.unconfirmed = len(unsure)
    accepted = {job_id: job for job_id, job in sandbox.world.jobs.items() if job.token == TOKEN}
    report.accepted = len(accepted)
    report.accepted_by_type = Counter(job.type for job in accepted.values())
    report.lost = sum(1 for job_id in accepted if job_id not in recorded and job_id not in named)
    report.mismatches = [
        f"{job_id}: recorded {recorded[job_id].state}, Descript {job.state}"
        for job_id, job in accepted.items()
        if job_id in recorded and recorded[job_id].state != job.state
    ]
    report.wrong_final_state = len(report.mismatches)
    # Each project is asked for once, and then for one agent edit or one publish at most.
    per_project_and_type: Counter[tuple[str, str]] = Counter(
        (sandbox.world.projects[job.project_id].name, job.type) for job in accepted.values()
    )
    report.duplicates = sum(n - 1 for n in per_project_and_type.values() if n > 1)
    theirs = {job_id: job for job_id, job in sandbox.world.jobs.items() if job.token == TEAMMATE}
    claimed = [s for s in submissions if s.job_id in theirs]
    report.wrongly_claimed = len(claimed)
    report.beyond_the_limit = sum(1 for s in claimed if not _in_the_limit(s, theirs, sandbox))
    report.others_cancelled = sum(
        1
        for r in sandbox.api_requests("DELETE", "/jobs/")
        if r.token == TOKEN and r.path.rsplit("/", 1)[-1] in theirs
    )


def _in_the_limit(claim: Submission, theirs: dict[str, SandboxJob], sandbox: Sandbox) -> bool:
    """Whether a teammate's job taken for the server's is the case no rule can tell apart
    without an idempotency key: created while the request was in flight (the sandbox runs on
    this machine's clock), and the teammate's first of that kind on the project in QUIET_FOR."""
    job = theirs[claim.job_id or ""]
    created = job.created_at.timestamp()
    during = claim.sent_at <= created <= (claim.ended_at or created)
    earlier = [
        other
        for other in theirs.values()
        if (other.project_id, other.type) == (job.project_id, job.type)
        and created - QUIET_FOR <= other.created_at.timestamp() < created
    ]
    return during and not earlier


def _early_retries(requests: list[RequestRecord]) -> int:
    """Attempts of a request made before the Retry-After of its previous attempt elapsed."""
    by_request: dict[str, list[RequestRecord]] = defaultdict(list)
    for record in requests:
        if record.request_id:
            by_request[record.request_id].append(record)
    early = 0
    for attempts in by_request.values():
        for previous, following in itertools.pairwise(attempts):
            if previous.status == 429 and previous.retry_after is not None:
                early += following.at < previous.at + previous.retry_after - 0.005
    return early


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = anyio.run(run_soak, args.jobs, args.concurrency, args.seed)
    print("descript-mcp soak under injected faults")
    width = max(len(name) for name, _ in report.rows())
    for name, figure in report.rows():
        print(f"  {name:<{width}}  {figure}")
    for mismatch in report.mismatches:
        print(f"  mismatch: {mismatch}")
    failed = (
        report.lost
        or report.duplicates
        or report.without_result
        or report.token_leaks
        or report.retry_after_violations
        or report.wrong_final_state
        or report.beyond_the_limit
        or report.others_cancelled
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

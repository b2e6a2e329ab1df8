"""What a sandbox simulates: drives and their tokens, balances, timings and limits."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field

DEFAULT_TOKEN = "sandbox-token"
OTHER_DRIVE_TOKEN = "sandbox-other-token"
ACCESS_LEVELS = ("public", "unlisted", "drive", "private")


@dataclass
class DriveConfig:
    """A drive with its tokens. Every token is scoped to exactly one drive, as in Descript."""

    name: str
    tokens: tuple[str, ...]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_name: str = "Sandbox User"
    media_minutes: float = 600.0
    ai_credits: float = 500.0
    search_enabled: bool = True
    visual_search: bool = False  # match=visual: drives on Descript's Enterprise plan
    agent_enabled: bool = True
    default_access_level: str = "unlisted"
    allowed_access_levels: tuple[str, ...] = ACCESS_LEVELS
    # Workspaces besides Personal and General: name by whether the token's user is a member.
    workspaces: dict[str, bool] = field(default_factory=lambda: {"Marketing": True})


@dataclass
class JobTimings:
    """Seconds each phase of a job takes. `fast()` is for tests."""

    queued: float = 0.5
    import_item: float = 2.0
    transcribe: float = 1.5
    agent_step: float = 1.5
    publish: float = 4.0
    timeline_export: float = 8.0  # as long as the one live timeline export took
    progress_steps: int = 4

    @classmethod
    def fast(cls) -> JobTimings:
        return cls(
            queued=0.01,
            import_item=0.03,
            transcribe=0.02,
            agent_step=0.02,
            publish=0.04,
            timeline_export=0.03,
            progress_steps=2,
        )


@dataclass
class SandboxConfig:
    drives: list[DriveConfig] = field(
        default_factory=lambda: [
            DriveConfig(name="Sandbox Drive", tokens=(DEFAULT_TOKEN,)),
            DriveConfig(name="Other Drive", tokens=(OTHER_DRIVE_TOKEN,)),
        ]
    )
    timings: JobTimings = field(default_factory=JobTimings)
    # Per token: at most `rate_limit_requests` API requests in any `rate_limit_window` seconds.
    rate_limit_requests: int = 600
    rate_limit_window: float = 60.0
    upload_url_ttl: float = 3 * 3600.0
    download_url_ttl: float = 3600.0
    timeline_url_ttl: float = 24 * 3600.0
    # Media URLs are fetched from loopback addresses (and the sandbox itself) only, unless set.
    allow_remote_urls: bool = False
    max_fetch_bytes: int = 8 * 1024**3
    signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    # Seconds the sandbox's clock runs ahead of this machine's (behind when negative): its
    # jobs' times and its Date headers, as a server elsewhere would have them.
    clock_offset: float = 0.0
    # The Date header: None, the second each answer leaves (as Descript's servers stamp it); a
    # fraction of a second, a header cached and refreshed once a second at that fraction past
    # each second, as uvicorn's own is: it names a second up to one more behind the answer's.
    date_refreshed_at: float | None = None
    # Whether GET /jobs takes the `type` values Descript does not document (publish,
    # export/timeline, import/drive_media). Live reports disagree; off, they are refused as the
    # spec's enum has them (400), so that a client is tried against the strict answer.
    lists_undocumented_job_types: bool = False
    # A publish that succeeds without a download link, as when Descript's signing fails.
    publish_signing_fails: bool = False

    @classmethod
    def for_tests(cls, **overrides: object) -> SandboxConfig:
        config = cls(timings=JobTimings.fast())
        for name, value in overrides.items():
            setattr(config, name, value)
        return config

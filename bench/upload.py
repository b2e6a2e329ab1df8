"""Upload throughput of a large local file to a signed upload URL: descript-mcp's streamed
upload against `curl --upload-file` to the same sandbox endpoint, in the same run, and the
uploader's peak memory growth while it runs.

Goals: at least 0.8x curl's throughput; under 64 MiB of memory growth.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._sandbox import TOKEN, sandbox_process

# Run in a fresh interpreter: its peak RSS then belongs to the upload alone.
UPLOADER = r"""
import json, resource, sys, time
from pathlib import Path
import anyio
from descript_mcp import DescriptClient
from descript_mcp.files.local import ReadableFile
from descript_mcp.files.transfer import upload_file

def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

async def main(url: str, path: str, size: int) -> None:
    async with DescriptClient("unused") as client:
        before = rss_kib()
        started = time.perf_counter()
        with ReadableFile.at(Path(path)) as file:
            assert file.size == size
            await upload_file(client, url, file)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_growth_kib": peak - before}))

anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


def _upload_url(api: str, size: int) -> str:
    body = {
        "project_name": "bench",
        "add_media": {"big.wav": {"content_type": "audio/wav", "file_size": size}},
    }
    answer = httpx.post(
        f"{api}/jobs/import/project_media", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    answer.raise_for_status()
    return answer.json()["upload_urls"]["big.wav"]["upload_url"]


def _curl(url: str, path: Path) -> float:
    started = time.perf_counter()
    status = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "PUT",
            "--upload-file",
            str(path),
            "-H",
            "Content-Type: application/octet-stream",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    seconds = time.perf_counter() - started
    if status != "200":
        raise RuntimeError(f"curl's upload answered {status}")
    return seconds


def _ours(url: str, path: Path, size: int) -> tuple[float, float]:
    run = subprocess.run(
        [sys.executable, "-c", UPLOADER, url, str(path), str(size)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(run.stdout)
    return figures["seconds"], figures["rss_growth_kib"] / 1024


def run(size_mib: int, repeats: int) -> list[tuple[str, str]]:
    if shutil.which("curl") is None:
        return [("upload", "skipped: curl is not installed")]
    size = size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
        path = Path(folder) / "big.wav"
        with path.open("wb") as out:
            out.truncate(size)  # sparse: the disk is not what is measured
        curl_times, our_times, growth = [], [], []
        for _ in range(repeats):  # interleaved, so drift hits both alike
            curl_times.append(_curl(_upload_url(api, size), path))
            seconds, grown = _ours(_upload_url(api, size), path, size)
            our_times.append(seconds)
            growth.append(grown)
    curl_rate = size_mib / statistics.median(curl_times)
    our_rate = size_mib / statistics.median(our_times)
    return [
        (f"upload {size_mib} MiB: curl --upload-file (baseline)", f"{curl_rate:.0f} MiB/s"),
        (f"upload {size_mib} MiB: descript-mcp", f"{our_rate:.0f} MiB/s"),
        ("upload: ratio to curl (goal >= 0.80)", f"{our_rate / curl_rate:.2f}x"),
        ("upload: peak RSS growth (goal < 64 MiB)", f"{max(growth):.1f} MiB"),
    ]

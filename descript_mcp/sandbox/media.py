"""Media the sandbox can make and read: WAV audio, MP4 structure, media kinds, durations, spoken
words."""

from __future__ import annotations

import functools
import io
import math
import struct
import wave
from dataclasses import dataclass
from pathlib import PurePosixPath

SAMPLE_RATE = 16_000
SAMPLE_SECONDS = 12.0

AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus"}
VIDEO_EXTENSIONS = {".mp4", ".mov", ".webm", ".mkv", ".m4v", ".avi"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
# Nominal bitrates (bytes/s) for formats the sandbox does not decode.
_NOMINAL_BYTE_RATE = {"audio": 16_000, "video": 250_000}


def synthesize_wav(seconds: float, *, seed: int = 0) -> bytes:
    """A real 16 kHz mono 16-bit WAV: tones shaped like syllables, with pauses."""
    frames = int(seconds * SAMPLE_RATE)
    block = _speech_like_block(seed)  # 2 s that repeat seamlessly
    repeats, rest = divmod(frames * 2, len(block))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(block * repeats + block[:rest])
    return buffer.getvalue()


@functools.cache
def _speech_like_block(seed: int) -> bytes:
    pcm = bytearray()
    for i in range(2 * SAMPLE_RATE):
        t = i / SAMPLE_RATE
        syllable = (t * 4.0) % 1.0
        envelope = math.sin(math.pi * syllable / 0.8) if syllable < 0.8 else 0.0
        pitch = 180 + 20 * seed % 80 + 60 * math.sin(math.pi * t)
        pcm += struct.pack("<h", int(0.3 * envelope * math.sin(2 * math.pi * pitch * t) * 32767))
    return bytes(pcm)


def synthesize_mp4(seconds: float, *, size: int = 0) -> bytes:
    """A real MP4 (ISO base media) file's structure: `ftyp`, a `moov` whose `mvhd` gives the
    duration, then `mdat`, padded to `size` bytes when that is more. The moov comes first
    ("fast start"), as in files made for the web."""
    head = mp4_head(seconds, size=size)
    return head + bytes(max(0, size - len(head)))


def mp4_head(seconds: float, *, size: int = 0) -> bytes:
    """An MP4 of `size` bytes up to its media data, which are zeros: a file of any size is
    this, then zeros (written sparse, it takes no room on disk)."""
    timescale = 1000
    mvhd = struct.pack(
        ">B3sIIII", 0, b"\0\0\0", 0, 0, timescale, round(seconds * timescale)
    ) + struct.pack(">IH10s36s24sI", 0x00010000, 0x0100, bytes(10), _IDENTITY, bytes(24), 1)
    head = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    head += _box(b"moov", _box(b"mvhd", mvhd))
    payload = max(0, size - len(head) - 8)
    return head + struct.pack(">I4s", 8 + payload, b"mdat")


# The unit matrix of a movie header, 16.16 and 2.30 fixed point.
_IDENTITY = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_ISO_MEDIA = {".mp4", ".m4v", ".m4a", ".mov"}


def _box(kind: bytes, content: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(content), kind) + content


def _movie_duration(head: bytes) -> float | None:
    """Seconds from an ISO media file's `moov/mvhd`, when its first bytes hold it."""
    pos = 0
    while pos + 8 <= len(head):
        size, kind = struct.unpack(">I4s", head[pos : pos + 8])
        if kind == b"moov":
            inner = pos + 8
            while inner + 8 <= min(pos + size, len(head)):
                box_size, box_kind = struct.unpack(">I4s", head[inner : inner + 8])
                body = head[inner + 8 : inner + box_size]
                if box_kind == b"mvhd" and len(body) >= 32:
                    if body[0] == 1:  # 64-bit times
                        timescale, duration = struct.unpack(">IQ", body[20:32])
                    else:
                        timescale, duration = struct.unpack(">II", body[12:20])
                    return round(duration / timescale, 3) if timescale else None
                if box_size < 8:
                    return None
                inner += box_size
        if size < 8:
            return None
        pos += size
    return None


def media_kind(name: str) -> str | None:
    """audio, video or image from a file name's extension; None when it tells nothing."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return None


class UnreadableMediaError(ValueError):
    pass


def read_duration(kind: str, head: bytes, size: int, *, name: str) -> float | None:
    """Seconds of media from its first bytes and total size. WAV is read for real."""
    if kind == "image":
        return None
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".wav":
        return _wav_duration(head, size)
    if suffix in _ISO_MEDIA and (seconds := _movie_duration(head)) is not None:
        return seconds
    if size <= 0:
        raise UnreadableMediaError("Uploaded file has invalid or unsupported media content")
    return round(size / _NOMINAL_BYTE_RATE[kind], 3)


def _wav_duration(head: bytes, size: int) -> float:
    if not head.startswith(b"RIFF") or head[8:12] != b"WAVE":
        raise UnreadableMediaError("Uploaded file has invalid or unsupported media content")
    pos = 12
    byte_rate = 0
    while pos + 8 <= len(head):
        chunk_id, chunk_size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt ":
            byte_rate = struct.unpack("<I", head[pos + 16 : pos + 20])[0]
        elif chunk_id == b"data":
            if byte_rate <= 0:
                break
            # A streamed WAV may declare 0 or 0xFFFFFFFF: then the data runs to the end of file.
            data_size = min(chunk_size, size - pos - 8) if chunk_size else size - pos - 8
            return round(data_size / byte_rate, 3)
        pos += 8 + chunk_size + (chunk_size & 1)
    raise UnreadableMediaError("Failed to read media metadata")


SCRIPT = (
    ("Host", "Welcome back to the show, um, today we are talking about editing audio."),
    ("Guest", "Thanks for having me, uh, it is great to be here."),
    ("Host", "So, you know, what makes a recording sound professional?"),
    ("Guest", "Mostly, um, clean sound and a tight edit without long pauses."),
    ("Host", "And removing filler words, uh, like the ones I keep using."),
    ("Guest", "Exactly, you know, the listener notices every one of them."),
)
FILLERS = ("um,", "uh,", "you know,")


@dataclass
class Sentence:
    speaker: str
    text: str
    start: float
    end: float


def spoken_words(seconds: float | None, *, seed: int = 0) -> list[Sentence]:
    """What the sandbox 'hears' in a piece of media: one line of the script per 3 s."""
    if not seconds:
        return []
    count = max(1, int(seconds // 3))
    step = seconds / count
    return [
        Sentence(
            *SCRIPT[(seed + i) % len(SCRIPT)],
            start=round(i * step, 3),
            end=round((i + 1) * step, 3),
        )
        for i in range(count)
    ]


def remove_fillers(sentences: list[Sentence]) -> int:
    """Strip filler words in place; return how many were removed."""
    removed = 0
    for sentence in sentences:
        for filler in FILLERS:
            while f" {filler}" in sentence.text:
                sentence.text = sentence.text.replace(f" {filler}", "", 1)
                removed += 1
    return removed

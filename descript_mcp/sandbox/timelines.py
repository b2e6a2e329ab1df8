"""Timeline files in the formats POST /jobs/export/timeline offers, made from a composition's
clips. Media is named, never bundled, as in Descript's. AAF is a binary container no library
here writes: the sandbox's is a stand-in that says so in its first bytes."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from descript_mcp.sandbox.state import Composition, Project

SAMPLE_RATE = 48_000
FPS = 30
AAF_STAND_IN = b"descript-mcp sandbox AAF stand-in\x00"

# Format: (file extension, content type).
FILES = {
    "edl": ("edl", "text/plain"),
    "sesx": ("sesx", "application/xml"),
    "fcp": ("fcpxml", "application/xml"),
    "premiere": ("xml", "application/xml"),
    "davinci_resolve": ("xml", "application/xml"),
    "aaf": ("aaf", "application/octet-stream"),
}


@dataclass(frozen=True)
class Clip:
    file: str  # the media's name in the project
    kind: str
    start: float  # seconds into the composition
    duration: float
    muted: bool


@dataclass(frozen=True)
class Timeline:
    project: str
    name: str
    width: int
    height: int
    clips: list[Clip]

    @property
    def duration(self) -> float:
        return self.clips[-1].start + self.clips[-1].duration if self.clips else 0.0


def timeline_of(project: Project, composition: Composition) -> Timeline:
    """The composition's clips end to end, as its duration counts them."""
    clips, start = [], 0.0
    for media, muted in project.clips_of(composition):
        duration = media.duration or 0.0
        clips.append(Clip(media.key, media.kind, start, duration, muted))
        start += duration
    return Timeline(project.name, composition.name, composition.width, composition.height, clips)


def render(fmt: str, timeline: Timeline, *, track_per_file: bool, strip_spaces: bool) -> bytes:
    """The timeline file: all clips on one track, or each file's on a track of its own."""
    tracks = _tracks(timeline, track_per_file)
    if fmt == "edl":
        return _edl(timeline, tracks)
    if fmt == "sesx":
        return _sesx(timeline, tracks)
    if fmt == "fcp":
        return _fcpxml(timeline)
    if fmt == "aaf":
        return _aaf(timeline, tracks, strip_spaces)
    return _xmeml(timeline, tracks)


Track = tuple[str, list[Clip]]


def _tracks(timeline: Timeline, per_file: bool) -> list[Track]:
    if not per_file:
        return [("Track 1", timeline.clips)]
    by_file: dict[str, list[Clip]] = {}
    for clip in timeline.clips:
        by_file.setdefault(clip.file, []).append(clip)
    return list(by_file.items())


def _files(timeline: Timeline) -> list[str]:
    return list(dict.fromkeys(clip.file for clip in timeline.clips))


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def _frames(seconds: float) -> int:
    return round(seconds * FPS)


def _edl(timeline: Timeline, tracks: list[Track]) -> bytes:
    """Samplitude's EDL, which Reaper reads: positions in samples, MT the mute flag."""
    files = _files(timeline)
    lines = [
        "Samplitude EDL File Format Version 1.5",
        f'Title: "{_quoted(timeline.name)}"',
        f"Sample Rate: {SAMPLE_RATE}",
        "Output Channels: 2",
        "",
        f"Source Table Entries: {len(files)}",
        *(f'   {n} "{_quoted(name)}"' for n, name in enumerate(files, 1)),
    ]
    for number, (name, clips) in enumerate(tracks, 1):
        lines += [
            "",
            f'Track {number}: "{_quoted(name)}" Solo: 0 Mute: 0',
            "#Source Track    Play-In    Play-Out   Record-In  Record-Out  Vol(dB) MT LK Name",
        ]
        for clip in clips:
            length, start = _samples(clip.duration), _samples(clip.start)
            lines.append(
                f"{files.index(clip.file) + 1:7d} {number:5d} {0:10d} {length:11d} "
                f"{start:11d} {start + length:11d} {0:8.2f} {int(clip.muted):2d}  0 "
                f'"{_quoted(clip.file)}"'
            )
    return ("\n".join(lines) + "\n").encode()


def _quoted(text: str) -> str:
    return text.replace('"', "'")


def _sesx(timeline: Timeline, tracks: list[Track]) -> bytes:
    """An Adobe Audition session: positions in samples."""
    files = _files(timeline)
    root = ET.Element("sesx", version="1.9")
    session = ET.SubElement(
        root,
        "session",
        sampleRate=str(SAMPLE_RATE),
        duration=str(_samples(timeline.duration)),
        audioChannelType="stereo",
    )
    ET.SubElement(session, "name").text = timeline.name
    tracks_element = ET.SubElement(session, "tracks")
    clip_id = 0
    for number, (name, clips) in enumerate(tracks, 1):
        track = ET.SubElement(tracks_element, "audioTrack", id=str(10000 + number))
        ET.SubElement(ET.SubElement(track, "trackParameters"), "name").text = name
        for clip in clips:
            length, start = _samples(clip.duration), _samples(clip.start)
            ET.SubElement(
                track,
                "audioClip",
                id=str(clip_id),
                name=clip.file,
                fileID=str(files.index(clip.file)),
                startPoint=str(start),
                endPoint=str(start + length),
                sourceInPoint="0",
                sourceOutPoint=str(length),
                mute=_flag(clip.muted),
            )
            clip_id += 1
    listing = ET.SubElement(root, "files")
    for number, name in enumerate(files):
        ET.SubElement(listing, "file", id=str(number), relativePath=name, absolutePath=name)
    return _xml(root, "sesx")


def _fcpxml(timeline: Timeline) -> bytes:
    """FCPXML 1.8: a magnetic spine, so no tracks; a muted clip is a disabled one."""
    files = _files(timeline)
    kinds = {clip.file: clip.kind for clip in timeline.clips}
    longest = {file: max(c.duration for c in timeline.clips if c.file == file) for file in files}
    root = ET.Element("fcpxml", version="1.8")
    resources = ET.SubElement(root, "resources")
    ET.SubElement(
        resources,
        "format",
        id="r0",
        name=f"FFVideoFormat{timeline.height}p{FPS}",
        frameDuration=f"1/{FPS}s",
        width=str(timeline.width),
        height=str(timeline.height),
    )
    for number, name in enumerate(files, 1):
        ET.SubElement(
            resources,
            "asset",
            id=f"r{number}",
            name=name,
            src=name,
            start="0s",
            duration=_rational(longest[name]),
            hasVideo=_bit(kinds[name] in ("video", "image")),
            hasAudio=_bit(kinds[name] != "image"),
            format="r0",
        )
    event = ET.SubElement(ET.SubElement(root, "library"), "event", name=timeline.project)
    sequence = ET.SubElement(
        ET.SubElement(event, "project", name=timeline.name),
        "sequence",
        format="r0",
        duration=_rational(timeline.duration),
        tcStart="0s",
        tcFormat="NDF",
    )
    spine = ET.SubElement(sequence, "spine")
    for clip in timeline.clips:
        item = ET.SubElement(
            spine,
            "asset-clip",
            ref=f"r{files.index(clip.file) + 1}",
            name=clip.file,
            offset=_rational(clip.start),
            start="0s",
            duration=_rational(clip.duration),
        )
        if clip.muted:
            item.set("enabled", "0")
    return _xml(root, "fcpxml")


def _rational(seconds: float) -> str:
    return f"{_frames(seconds)}/{FPS}s"


def _bit(value: bool) -> str:
    return "1" if value else "0"


def _xmeml(timeline: Timeline, tracks: list[Track]) -> bytes:
    """xmeml version 4, which Premiere and DaVinci Resolve read: positions in frames; video
    and images on the video track, every clip with sound on the audio tracks."""
    root = ET.Element("xmeml", version="4")
    sequence = ET.SubElement(root, "sequence", id="sequence-1")
    ET.SubElement(sequence, "name").text = timeline.name
    ET.SubElement(sequence, "duration").text = str(_frames(timeline.duration))
    _rate(sequence)
    media = ET.SubElement(sequence, "media")
    video = ET.SubElement(media, "video")
    characteristics = ET.SubElement(ET.SubElement(video, "format"), "samplecharacteristics")
    ET.SubElement(characteristics, "width").text = str(timeline.width)
    ET.SubElement(characteristics, "height").text = str(timeline.height)
    files = _files(timeline)
    described: set[str] = set()  # a file is described once, then named by its id
    pictures = [clip for clip in timeline.clips if clip.kind in ("video", "image")]
    audio = ET.SubElement(media, "audio")
    layout = [(video, pictures)] + [
        (audio, [clip for clip in clips if clip.kind != "image"]) for _name, clips in tracks
    ]
    items = 0
    for parent, clips in layout:
        track = ET.SubElement(parent, "track")
        for clip in clips:
            items += 1
            item = ET.SubElement(track, "clipitem", id=f"clipitem-{items}")
            ET.SubElement(item, "name").text = clip.file
            ET.SubElement(item, "enabled").text = "FALSE" if clip.muted else "TRUE"
            ET.SubElement(item, "duration").text = str(_frames(clip.duration))
            _rate(item)
            start, end = _frames(clip.start), _frames(clip.start + clip.duration)
            for tag, value in (("start", start), ("end", end), ("in", 0), ("out", end - start)):
                ET.SubElement(item, tag).text = str(value)
            file = ET.SubElement(item, "file", id=f"file-{files.index(clip.file) + 1}")
            if clip.file not in described:
                described.add(clip.file)
                ET.SubElement(file, "name").text = clip.file
                ET.SubElement(file, "pathurl").text = clip.file
    return _xml(root, "xmeml")


def _rate(parent: ET.Element) -> None:
    rate = ET.SubElement(parent, "rate")
    ET.SubElement(rate, "timebase").text = str(FPS)
    ET.SubElement(rate, "ntsc").text = "FALSE"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _xml(root: ET.Element, doctype: str) -> bytes:
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE {doctype}>\n{body}\n'.encode()


def _aaf(timeline: Timeline, tracks: list[Track], strip_spaces: bool) -> bytes:
    """The stand-in: its marker, then the composition, its tracks and their clips (UTF-16 names,
    positions in samples, a mute flag), little-endian. `strip_spaces` takes the spaces out of
    names, for Logic."""

    def text(value: str) -> bytes:
        encoded = (value.replace(" ", "") if strip_spaces else value).encode("utf-16-le")
        return struct.pack("<H", len(encoded)) + encoded

    out = bytearray(AAF_STAND_IN)
    out += text(timeline.name) + struct.pack("<IH", SAMPLE_RATE, len(tracks))
    for name, clips in tracks:
        out += text(name) + struct.pack("<I", len(clips))
        for clip in clips:
            out += text(clip.file)
            out += struct.pack("<QQ?", _samples(clip.start), _samples(clip.duration), clip.muted)
    return bytes(out)

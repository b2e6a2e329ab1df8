"""Transcript files in the formats POST /export/transcript offers, and the sandbox's web pages."""

from __future__ import annotations

import html
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from descript_mcp.sandbox.media import Sentence

CONTENT_TYPES = {
    "txt": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    "rtf": "application/rtf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "srt": "application/x-subrip",
}
EXTENSIONS = {
    "txt": "txt",
    "markdown": "md",
    "html": "html",
    "rtf": "rtf",
    "docx": "docx",
    "srt": "srt",
}


@dataclass
class Paragraph:
    speaker: str | None
    text: str
    start: float
    end: float
    stamp: str | None


def timeline(clips: list[list[Sentence]]) -> list[Sentence]:
    """Sentences of consecutive clips on one time axis."""
    placed, offset = [], 0.0
    for words in clips:
        for s in words:
            placed.append(Sentence(s.speaker, s.text, s.start + offset, s.end + offset))
        offset += words[-1].end if words else 0.0
    return placed


def paragraphs(sentences: list[Sentence], options: dict[str, Any]) -> list[Paragraph]:
    labels = options.get("include_speaker_labels", "changes")
    timecodes = options.get("timecodes")
    result, previous, next_stamp = [], None, 0.0
    for s in sentences:
        show = labels == "every_paragraph" or (labels == "changes" and s.speaker != previous)
        stamp = None
        if timecodes is not None:
            frequency = timecodes.get("frequency_seconds")
            due = frequency is not None and s.start >= next_stamp
            on_speaker = timecodes.get("on_speakers") and s.speaker != previous
            if timecodes.get("on_paragraphs") or due or on_speaker:
                stamp = clock(s.start + float(timecodes.get("offset_seconds", 0)))
                next_stamp = s.start + (frequency or 0)
        result.append(Paragraph(s.speaker if show else None, s.text, s.start, s.end, stamp))
        previous = s.speaker
    return result


def render(fmt: str, title: str, items: list[Paragraph]) -> bytes:
    if fmt == "srt":
        return "\n".join(
            f"{n}\n{_srt(p.start)} --> {_srt(p.end)}\n{p.text}\n" for n, p in enumerate(items, 1)
        ).encode()
    lines = [_line(p) for p in items]
    if fmt == "txt":
        return ("\n\n".join(lines) + "\n").encode()
    if fmt == "markdown":
        return (f"# {title}\n\n" + "\n\n".join(lines) + "\n").encode()
    if fmt == "html":
        body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
        return (
            f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1>{body}</body></html>".encode()
        )
    if fmt == "rtf":
        body = "".join(_rtf_escape(line) + r"\par\par " for line in lines)
        return (r"{\rtf1\ansi\deff0 {\fonttbl {\f0 Helvetica;}}\f0 " + body + "}").encode()
    return _docx(title, lines)


def _line(p: Paragraph) -> str:
    prefix = f"[{p.stamp}] " if p.stamp else ""
    speaker = f"{p.speaker}: " if p.speaker else ""
    return prefix + speaker + p.text


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _srt(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{clock(millis / 1000)},{millis % 1000:03d}"


def _rtf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")


def _docx(title: str, lines: list[str]) -> bytes:
    """A minimal, valid Word document."""
    paragraphs_xml = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{html.escape(line)}</w:t></w:r></w:p>'
        for line in [title, *lines]
    )
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{paragraphs_xml}</w:body></w:document>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", rels)
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def webvtt(items: list[Paragraph]) -> str:
    cues = "".join(
        f"\n{_srt(p.start).replace(',', '.')} --> {_srt(p.end).replace(',', '.')}\n{p.text}\n"
        for p in items
    )
    return "WEBVTT\n" + cues


def page(title: str, rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>descript-mcp sandbox</p><table>{cells}</table>"
        "</body></html>"
    )

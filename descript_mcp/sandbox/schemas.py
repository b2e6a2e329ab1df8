"""JSON Schemas of the request bodies, transcribed from Descript's OpenAPI spec (v1.2).

Written by hand rather than shared with the client's pydantic models, so that a mistake in one
is caught by the other. Live behaviour wins over the spec where they differ: `fps` on a new
composition is rejected with 400 "not allowed".
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_UUID = {"type": "string", "format": "uuid"}
_URI = {"type": "string", "format": "uri"}
_TEAM_ACCESS = {"type": "string", "enum": ["edit", "comment", "view", "none"]}

URL_IMPORT: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {"url": _URI, "language": _STRING},
    "additionalProperties": False,
}
DIRECT_UPLOAD: dict[str, Any] = {
    "type": "object",
    "required": ["content_type", "file_size"],
    "properties": {
        "content_type": {"type": "string", "minLength": 1},
        "file_size": {"type": "integer", "minimum": 0},
        "language": _STRING,
    },
    "additionalProperties": False,
}
SEQUENCE: dict[str, Any] = {
    "type": "object",
    "required": ["tracks"],
    "properties": {
        "tracks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["media"],
                "properties": {
                    "media": _STRING,
                    "offset": {"type": "number"},
                    "mute": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
        }
    },
    "additionalProperties": False,
}
# add_media items are matched to one of these by the keys they carry (validation.py).
MEDIA_ITEM_KINDS: dict[str, dict[str, Any]] = {
    "url": URL_IMPORT,
    "upload": DIRECT_UPLOAD,
    "sequence": SEQUENCE,
}

IMPORT_PROJECT_MEDIA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "project_id": _UUID,
        "project_name": _STRING,
        "team_access": _TEAM_ACCESS,
        "folder_name": _STRING,
        "workspace_name": _STRING,
        "add_media": {"type": "object", "additionalProperties": {"type": "object"}},
        "add_compositions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["clips"],
                "properties": {
                    "name": _STRING,
                    "width": {"type": "integer", "minimum": 1},
                    "height": {"type": "integer", "minimum": 1},
                    "clips": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["media"],
                            "properties": {"media": _STRING, "mute": {"type": "boolean"}},
                            "additionalProperties": False,
                        },
                    },
                },
                "additionalProperties": False,
            },
        },
        "callback_url": _URI,
    },
    "additionalProperties": False,
}

AGENT: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "project_id": _UUID,
        "project_name": _STRING,
        "composition_id": _STRING,
        "model": _STRING,
        "prompt": {"type": "string", "minLength": 1},
        "team_access": _TEAM_ACCESS,
        "callback_url": _URI,
    },
    "additionalProperties": False,
}

PUBLISH: dict[str, Any] = {
    "type": "object",
    "required": ["project_id"],
    "properties": {
        "project_id": _UUID,
        "composition_id": _STRING,
        "media_type": {"type": "string", "enum": ["Video", "Audio"]},
        "resolution": {"type": "string", "enum": ["480p", "720p", "1080p", "1440p", "4K"]},
        "callback_url": _URI,
        "access_level": {"type": "string", "enum": ["public", "unlisted", "drive", "private"]},
    },
    "additionalProperties": False,
}

EXPORT_TRANSCRIPT: dict[str, Any] = {
    "type": "object",
    "required": ["project_id", "format"],
    "properties": {
        "project_id": _UUID,
        "composition_id": _STRING,
        "format": {"type": "string", "enum": ["txt", "markdown", "html", "rtf", "docx", "srt"]},
        "include_speaker_labels": {"type": "string", "enum": ["off", "changes", "every_paragraph"]},
        "include_markers": {"type": "boolean"},
        "timecodes": {
            "type": "object",
            "properties": {
                "frequency_seconds": {"type": "number", "exclusiveMinimum": 0},
                "offset_seconds": {"type": "number"},
                "on_paragraphs": {"type": "boolean"},
                "on_speakers": {"type": "boolean"},
                "on_markers": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}

"""JSON Schemas of the request bodies, transcribed from Descript's OpenAPI spec (v1.2).

Written by hand rather than shared with the client's pydantic models, so that a mistake in one
is caught by the other. Live behaviour wins over the spec where they differ: `fps` on a new
composition is rejected with 400 "not allowed". The undocumented parts (`update_compositions`,
timeline export, drive media import) are as live reports found them.
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
# The drive's media library takes files only.
DRIVE_MEDIA_ITEM_KINDS = {kind: MEDIA_ITEM_KINDS[kind] for kind in ("url", "upload")}

_CLIPS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["media"],
        "properties": {"media": _STRING, "mute": {"type": "boolean"}},
        "additionalProperties": False,
    },
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
                    "clips": _CLIPS,
                },
                "additionalProperties": False,
            },
        },
        "update_compositions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["composition_id", "append_clips"],
                "properties": {
                    "composition_id": _STRING,
                    "append_clips": {**_CLIPS, "minItems": 1},
                },
                "additionalProperties": False,
            },
        },
        "callback_url": _URI,
    },
    # Joi's `with`: 400 "\"update_compositions\" missing required peer \"project_id\"".
    "dependentRequired": {"update_compositions": ["project_id"]},
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
        "conversation_id": _UUID,
        "callback_url": _URI,
    },
    # "Requires `project_id`": a conversation goes on in its own project only.
    "dependentRequired": {"conversation_id": ["project_id"]},
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

TIMELINE_FORMATS = ("edl", "sesx", "fcp", "premiere", "davinci_resolve", "aaf")
EXPORT_TIMELINE: dict[str, Any] = {
    "type": "object",
    "required": ["project_id", "format"],
    "properties": {
        "project_id": _UUID,
        "format": {"type": "string", "enum": list(TIMELINE_FORMATS)},
        "composition_id": _STRING,
        "include_markers": {"type": "boolean"},
        "create_track_per_file": {"type": "boolean"},
        "snap_frame_rates": {"type": "boolean"},
        "strip_spaces": {"type": "boolean"},
        "callback_url": _URI,
    },
    "additionalProperties": False,
}

IMPORT_DRIVE_MEDIA: dict[str, Any] = {
    "type": "object",
    "required": ["add_media"],
    "properties": {
        "add_media": {"type": "object", "additionalProperties": {"type": "object"}},
        "folder_id": _UUID,
        "callback_url": _URI,
    },
    "additionalProperties": False,
}

"""CSV, JSON and JSONL exports (docs/formats.md has the field mapping).

One file may hold many conversations (a ``conversation_key`` column or one JSON object per
line). A problem in one conversation makes only that conversation fail: the readers return
an :class:`IngestError` in its place and go on with the rest of the file. A problem with the
file's layout (an unknown column) fails the whole file, since every row would be misread.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from pipeline.ingest.errors import IngestError
from pipeline.ingest.raw import RawConversation, RawMessage, parse_role, parse_seconds, parse_time

# Canonical field → accepted column names (lower-cased) in CSV headers.
CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "conversation_key": ("conversation_key", "conversation_id", "call_id", "chat_id", "会话id", "会话"),
    "speaker": ("speaker", "sender", "name", "发送人", "说话人", "发言人"),
    "role": ("role", "角色"),
    "text": ("text", "message", "content", "内容", "消息", "文本"),
    "time": ("time", "timestamp", "sent_at", "时间"),
    "start_s": ("start_s", "start"),
    "end_s": ("end_s", "end"),
}
MESSAGE_KEYS: tuple[str, ...] = ("time", "speaker", "role", "text", "start_s", "end_s")
CONVERSATION_KEYS: tuple[str, ...] = ("conversation_key", "messages", "metadata")
METADATA_KEYS: tuple[str, ...] = ("rep", "team", "customer", "deal_id", "stage", "outcome",
                                  "started_at", "channel", "language", "industry")

ParsedItem = RawConversation | IngestError


def _message(fields: dict[str, Any], path: str, key: str | None, where: str) -> RawMessage | None:
    """Build a message from canonical fields; None for a row with no text (nothing to keep)."""
    text = str(fields.get("text") or "").strip()
    speaker = str(fields.get("speaker") or "").strip()
    if not text:
        return None
    if not speaker:
        raise IngestError(path, "parse", f"{where} has text but no speaker",
                          "fill in the speaker of every message", key)
    role = fields.get("role")
    time_value = fields.get("time")
    return RawMessage(
        speaker=speaker,
        text=text,
        role=parse_role(str(role), path, key) if role not in (None, "") else None,
        sent_at=parse_time(str(time_value), path, key) if time_value not in (None, "") else None,
        start_s=parse_seconds(fields.get("start_s"), path, key, f"{where}: start_s"),
        end_s=parse_seconds(fields.get("end_s"), path, key, f"{where}: end_s"),
    )


def _collect(key: str | None, rows: list[tuple[str, dict]], path: str,
             metadata: dict | None = None) -> ParsedItem:
    try:
        messages = [m for where, fields in rows if (m := _message(fields, path, key, where))]
    except IngestError as exc:
        return exc
    if not messages:
        return IngestError(path, "parse", "the conversation has no message with text",
                           "check the export; empty conversations are not imported", key)
    return RawConversation(key=key, messages=tuple(messages), metadata=metadata or {})


_ALIASES: dict[str, str] = {alias: field for field, names in CSV_COLUMNS.items() for alias in names}
# Separators Excel and other tools write instead of commas (European locales, "Unicode text").
_OTHER_SEPARATORS: dict[str, str] = {";": "semicolons", "\t": "tabs", "|": "'|'"}


def _other_separator(header: list[str]) -> str | None:
    """What separates the columns, when a one-cell header is known column names joined by another
    separator than a comma (``speaker;role;text``)."""
    for separator, name in _OTHER_SEPARATORS.items():
        cells = header[0].split(separator) if len(header) == 1 else []
        if len(cells) > 1 and any(cell.strip().lower() in _ALIASES for cell in cells):
            return name
    return None


def _records(text: str, path: str) -> list[list[str]]:
    """Every CSV record, or an error naming the line the csv module stopped at."""
    reader = csv.reader(io.StringIO(text))
    try:
        return list(reader)
    except csv.Error as exc:  # an unclosed quote that swallowed the rest of the file, mostly
        raise IngestError(path, "parse", f"line {reader.line_num} cannot be read as CSV ({exc})",
                          "close the quote ('\"') that opens a cell near that line; a message longer than "
                          f"{csv.field_size_limit():,} characters must be split") from exc


def parse_csv(text: str, path: str) -> list[ParsedItem]:
    """Parse a CSV export; rows are grouped into conversations by ``conversation_key``."""
    records = _records(text, path)
    if not records:
        raise IngestError(path, "parse", "the CSV file has no header row", "add a header row, see docs/formats.md")
    header, body = records[0], records[1:]
    if separator := _other_separator(header):
        raise IngestError(path, "parse", f"the columns are separated by {separator}, not commas",
                          "save the file as comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")
    columns: list[str] = []
    for name in header:
        field = _ALIASES.get(name.strip().lower())
        if field is None:
            raise IngestError(path, "parse", f"unknown column {name.strip()!r}",
                              "rename it to one of: " + ", ".join(CSV_COLUMNS) + " (see docs/formats.md)")
        if field in columns:
            raise IngestError(path, "parse", f"two columns map to {field!r}", "keep only one of them")
        columns.append(field)
    for needed in ("speaker", "text"):
        if needed not in columns:
            raise IngestError(path, "parse", f"no {needed!r} column (columns: {', '.join(header)})",
                              f"add a column named {needed!r}")

    groups: dict[str | None, list[tuple[str, dict]]] = {}
    for row_number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        fields = dict(zip(columns, row))
        if len(row) != len(columns):
            key = fields.get("conversation_key") or None
            groups.setdefault(key, []).append((f"row {row_number}", {"__error__": len(row)}))
            continue
        groups.setdefault(fields.get("conversation_key") or None, []).append((f"row {row_number}", fields))
    if not groups:
        raise IngestError(path, "parse", "the CSV file has a header row but no message rows",
                          "export the conversation again with its messages")

    items: list[ParsedItem] = []
    for key, rows in groups.items():
        bad = [where for where, fields in rows if "__error__" in fields]
        if bad:
            items.append(IngestError(path, "parse", f"{bad[0]} has a different number of cells than the header",
                                     "quote cells that contain commas and line breaks", key))
            continue
        items.append(_collect(key, rows, path))
    return items


def _from_object(obj: Any, path: str, where: str) -> ParsedItem:
    key = obj.get("conversation_key") if isinstance(obj, dict) else None
    key = str(key) if key not in (None, "") else None
    if not isinstance(obj, dict):
        return IngestError(path, "parse", f"{where} is not a JSON object",
                           "write each conversation as an object with a 'messages' list", key)
    unknown = [name for name in obj if name not in CONVERSATION_KEYS]
    if unknown:
        return IngestError(path, "parse", f"{where} has unknown key {unknown[0]!r}",
                           f"use only: {', '.join(CONVERSATION_KEYS)}", key)
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, dict) or (bad := [k for k in metadata if k not in METADATA_KEYS]):
        return IngestError(path, "parse", f"{where}: metadata has unknown key "
                           f"{(bad[0] if isinstance(metadata, dict) else metadata)!r}",
                           f"use only: {', '.join(METADATA_KEYS)}", key)
    messages = obj.get("messages")
    if not isinstance(messages, list):
        return IngestError(path, "parse", f"{where} has no 'messages' list", "add the messages as a list", key)
    rows: list[tuple[str, dict]] = []
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict):
            return IngestError(path, "parse", f"{where} message {number} is not an object",
                               "write messages as objects with speaker and text", key)
        if bad := [k for k in message if k not in MESSAGE_KEYS]:
            return IngestError(path, "parse", f"{where} message {number} has unknown key {bad[0]!r}",
                               f"use only: {', '.join(MESSAGE_KEYS)}", key)
        rows.append((f"{where} message {number}", message))
    return _collect(key, rows, path, metadata)


def parse_json(text: str, path: str) -> list[ParsedItem]:
    """Parse a JSON file holding one conversation object or a list of them."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(path, "parse", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                          "fix the JSON syntax (a validator such as `python -m json.tool` shows where)") from exc
    except RecursionError as exc:
        raise IngestError(path, "parse", "the JSON is nested too deeply to be conversations", _SHAPE_FIX) from exc
    objects = document if isinstance(document, list) else [document]
    if not any(isinstance(obj, dict) for obj in objects):
        # Nothing here is a conversation: one error for the file, not one per number of a list.
        raise IngestError(path, "parse", f"the file holds {_describe(document)}, not conversation objects",
                          _SHAPE_FIX)
    return [_from_object(obj, path, f"conversation {number}") for number, obj in enumerate(objects, start=1)]


_SHAPE_FIX = "write each conversation as an object with a 'messages' list (see docs/formats.md)"
_JSON_KINDS: dict[type, str] = {dict: "object", list: "list", str: "string", int: "number", float: "number",
                                bool: "true/false value", type(None): "null"}


def _describe(document: Any) -> str:
    """``a number``, ``an empty list``, ``a list of numbers and strings``: what a JSON document is."""
    if not isinstance(document, list):
        kind = _JSON_KINDS[type(document)]
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    if not document:
        return "an empty list"
    return "a list of " + " and ".join(sorted({f"{_JSON_KINDS[type(item)]}s" for item in document}))


def parse_jsonl(text: str, path: str) -> list[ParsedItem]:
    """Parse JSON Lines: one conversation object per line; a bad line fails only itself."""
    items: list[ParsedItem] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(IngestError(path, "parse", f"line {line_number} is not valid JSON ({exc.msg})",
                                     "write one complete JSON object per line", f"line {line_number}"))
            continue
        except RecursionError:
            items.append(IngestError(path, "parse", f"line {line_number} is nested too deeply to be a conversation",
                                     _SHAPE_FIX, f"line {line_number}"))
            continue
        items.append(_from_object(obj, path, f"line {line_number}"))
    return items


READERS: dict[str, Callable[[str, str], list]] = {".csv": parse_csv, ".json": parse_json, ".jsonl": parse_jsonl}

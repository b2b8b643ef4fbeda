"""What a format reader produces before roles and metadata are settled."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.ingest.errors import IngestError

# Accepted spellings of a speaker role in exports, mapped onto Keynode's three roles.
ROLE_ALIASES: dict[str, str] = {
    "rep": "rep", "sales": "rep", "agent": "rep", "seller": "rep", "销售": "rep", "坐席": "rep",
    "顾问": "rep", "客服": "rep",
    "customer": "customer", "client": "customer", "buyer": "customer", "客户": "customer",
    "other": "other", "system": "other", "系统": "other",
}


@dataclass(frozen=True)
class RawMessage:
    """One message as the export gives it; ``role`` only when the export states it."""

    speaker: str
    text: str
    role: str | None = None
    sent_at: datetime | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class RawConversation:
    """The messages of one conversation plus the metadata the file itself carries."""

    key: str | None
    messages: tuple[RawMessage, ...]
    metadata: dict = field(default_factory=dict)


def parse_role(value: str, path: str, key: str | None) -> str:
    """Map an export's role spelling onto rep/customer/other, or fail naming the value."""
    role = ROLE_ALIASES.get(value.strip().lower())
    if role is None:
        raise IngestError(path, "parse", f"unknown speaker role {value!r}",
                          f"use one of: {', '.join(sorted(ROLE_ALIASES))}", key)
    return role


def parse_time(value: str, path: str, key: str | None = None) -> datetime:
    """Parse ``2024-05-08 10:02:13``, ``2024/5/8 10:02``, ``2024-05-08T10:02:13`` and the like."""
    text = value.strip()
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?", text)
    if match:
        year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
        try:
            return datetime(year, month, day, hour, minute, second)
        except ValueError as exc:
            raise IngestError(path, "parse", f"invalid date/time {value!r} ({exc})",
                              "write times as YYYY-MM-DD HH:MM:SS", key) from exc
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError as exc:
        raise IngestError(path, "parse", f"cannot read the time {value!r}",
                          "write times as YYYY-MM-DD HH:MM:SS", key) from exc


def parse_seconds(value: object, path: str, key: str | None, what: str) -> float | None:
    """A number of seconds, or None when blank; a clear error otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError) as exc:
        raise IngestError(path, "parse", f"{what} {value!r} is not a number of seconds",
                          f"write {what} as seconds from the start, e.g. 12.5", key) from exc
    if seconds < 0:
        raise IngestError(path, "parse", f"{what} {value!r} is negative", f"{what} must be ≥ 0", key)
    return seconds

"""WeChat / WeCom text exports (聊天记录).

A message starts with a header line, ``2024-05-08 10:02:13 王经理`` (WeChat) or
``王经理 2024-05-08 10:02:13`` (WeCom), and its text follows on one or more lines. Media and
stickers appear as codes such as ``[图片]``, ``[语音]``, ``[微笑]``; they are kept verbatim so the
transcript shows them, and the tagger ignores them. docs/formats.md has a full example.
"""

from __future__ import annotations

import re

from pipeline.ingest.errors import IngestError
from pipeline.ingest.raw import RawConversation, RawMessage, parse_time

_DATE = r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_HEADER_TIME_FIRST = re.compile(rf"^(?P<date>{_DATE})\s+(?P<time>{_TIME})\s+(?P<name>\S.{{0,40}}?)\s*$")
_HEADER_NAME_FIRST = re.compile(rf"^(?P<name>\S.{{0,40}}?)\s+(?P<date>{_DATE})\s+(?P<time>{_TIME})\s*$")
# Day separators some exporters insert: "—————  2024-05-08  —————".
_DAY_SEPARATOR = re.compile(rf"^[\s\-—=~·]*{_DATE}[\s\-—=~·]*$")
# A title line before the first message is allowed; more than this is an unknown layout.
_MAX_PREAMBLE_LINES = 3


def _header(line: str) -> re.Match[str] | None:
    return _HEADER_TIME_FIRST.match(line) or _HEADER_NAME_FIRST.match(line)


def parse_wechat(text: str, path: str) -> list[RawConversation]:
    """Parse one exported chat (one conversation per file) into raw messages."""
    lines = text.splitlines()
    messages: list[RawMessage] = []
    preamble: list[str] = []
    speaker: str | None = None
    sent_at = None
    body: list[str] = []

    def flush() -> None:
        message = "\n".join(body).strip()
        if speaker is not None and message:
            messages.append(RawMessage(speaker=speaker, text=message, sent_at=sent_at))

    for line_number, line in enumerate(lines, start=1):
        match = _header(line.strip())
        if match:
            flush()
            speaker = match["name"].strip()
            sent_at = parse_time(f"{match['date']} {match['time']}", f"{path}:{line_number}")
            body = []
        elif _DAY_SEPARATOR.match(line):
            continue  # skipped everywhere: before the first header it is not a title line either
        elif speaker is None:
            if line.strip():
                preamble.append(line)
        else:
            body.append(line.rstrip())
    flush()

    if not messages:
        raise IngestError(path, "parse",
                          "no message header like '2024-05-08 10:02:13 王经理' was found",
                          "export the chat as text from WeChat/WeCom, or convert it to the CSV "
                          "layout in docs/formats.md")
    if len(preamble) > _MAX_PREAMBLE_LINES:
        raise IngestError(path, "parse",
                          f"{len(preamble)} lines before the first message header "
                          f"(starting {preamble[0][:30]!r}): this is not a WeChat/WeCom export layout",
                          "remove the extra lines or convert the file to the CSV layout in docs/formats.md")
    return [RawConversation(key=None, messages=tuple(messages))]

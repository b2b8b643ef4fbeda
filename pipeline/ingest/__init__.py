"""Read conversation exports into :class:`~pipeline.models.Conversation` records.

``read_source(path, manifest, reps)`` reads one file (which may hold several conversations)
and returns the conversations it could read plus one :class:`IngestError` per conversation it
could not, so a single bad conversation never hides the good ones beside it.

Speaker roles are decided by this rule, first match wins (docs/formats.md):
1. the export states the role (a ``role`` column or field);
2. the speaker is the manifest row's ``rep``, or a rep listed in ``configs/reps.yaml``;
3. names such as ``系统消息``/``system`` are ``other``; everyone else is ``customer``.
A conversation in which no participant is a rep is an error: roles are never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.ingest.encoding import read_text
from pipeline.ingest.errors import IngestError
from pipeline.ingest.metadata import (
    MANIFEST_NAMES,
    Manifest,
    ManifestRow,
    RepDirectory,
    find_manifest,
    load_manifest,
    load_rep_directory,
    metadata_row,
)
from pipeline.ingest.raw import RawConversation
from pipeline.ingest.tabular import READERS
from pipeline.ingest.wechat import parse_wechat
from pipeline.models import Conversation, ConversationMeta, Utterance, content_hash
from pipeline.text import detect_language

__all__ = [
    "AUDIO_EXTENSIONS", "IngestError", "Manifest", "RepDirectory", "SourceResult", "TEXT_EXTENSIONS",
    "build_conversation", "discover", "find_manifest", "load_manifest", "load_rep_directory",
    "read_source",
]

TEXT_EXTENSIONS: dict[str, str] = {".txt": "wechat", ".csv": "csv", ".json": "json", ".jsonl": "jsonl"}
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".amr")
# Files that sit beside exports and are not conversations.
# references.jsonl: ground-truth transcripts of sample calls (bench/eval_asr.py), not an export.
_IGNORED_NAMES = {name for name in MANIFEST_NAMES} | {"readme.md", "license", ".ds_store", "references.jsonl"}
_IGNORED_SUFFIXES = {".md", ".yaml", ".yml"}
_SYSTEM_SPEAKERS = {"系统消息", "系统", "system", "system message"}


@dataclass(frozen=True)
class SourceResult:
    """What one file yielded: conversations read, and errors for those that could not be."""

    path: str
    conversations: tuple[Conversation, ...]
    errors: tuple[IngestError, ...]


def discover(paths: list[str | Path]) -> list[Path]:
    """Every conversation file under the given files/folders, sorted, manifests and docs left out."""
    found: set[Path] = set()
    for path in map(Path, paths):
        for candidate in _files_under(path) if path.is_dir() else [path]:
            if candidate.name.lower() in _IGNORED_NAMES or candidate.suffix.lower() in _IGNORED_SUFFIXES:
                continue
            found.add(candidate)
    return sorted(found)


def _files_under(folder: Path) -> Iterator[Path]:
    """The files under a folder, hidden files and folders left out. Linked folders are followed,
    each real folder once, so a link loop ends; a broken link is listed (and fails when read)."""
    seen: set[str] = set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # reached again through a link
            folders.clear()
            continue
        seen.add(real)
        folders[:] = [name for name in folders if not name.startswith(".")]
        yield from (Path(root, name) for name in files if not name.startswith("."))


def read_source(path: str | Path, manifest: Manifest | None = None,
                reps: RepDirectory | None = None) -> SourceResult:
    """Read one export file. Raises :class:`IngestError` only when nothing in it can be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        raise IngestError(str(path), "ingest", "a recording is not a text export",
                          "process it with `keynode process` or `keynode transcribe`, which transcribe audio")
    if suffix not in TEXT_EXTENSIONS:
        raise IngestError(str(path), "ingest", f"unsupported file type {suffix or '(none)'!r}",
                          f"use one of {', '.join(TEXT_EXTENSIONS)} (see docs/formats.md)")
    text, _encoding = read_text(path)
    fmt = TEXT_EXTENSIONS[suffix]
    items = parse_wechat(text, str(path)) if fmt == "wechat" else READERS[suffix](text, str(path))

    conversations: list[Conversation] = []
    errors: list[IngestError] = []
    for item in items:
        if isinstance(item, IngestError):
            errors.append(item)
            continue
        row = manifest.lookup(path, item.key) if manifest else None
        if manifest and row is None and item.key is not None and len(items) == 1:
            # A one-conversation file's row leaves conversation_key empty (docs/formats.md), even
            # when the export names its conversation (a JSON object's "conversation_key").
            row = manifest.lookup(path, None)
        try:
            conversations.append(build_conversation(item, str(path), fmt, row, reps or RepDirectory({})))
        except IngestError as exc:
            errors.append(exc)
    return SourceResult(str(path), tuple(conversations), tuple(errors))


def _roles(raw: RawConversation, rep_name: str | None, reps: RepDirectory, path: str) -> list[str]:
    roles: list[str | None] = []
    for message in raw.messages:
        if message.role:
            roles.append(message.role)
        elif message.speaker == rep_name or reps.is_rep(message.speaker):
            roles.append("rep")
        elif message.speaker.strip().lower() in _SYSTEM_SPEAKERS:
            roles.append("other")
        else:
            roles.append(None)
    if "rep" not in roles:
        speakers = ", ".join(dict.fromkeys(message.speaker for message in raw.messages))
        raise IngestError(path, "roles", f"cannot tell which participant is the rep (speakers: {speakers})",
                          "add a manifest row with rep=<name>, add the rep to configs/reps.yaml, "
                          "or add a 'role' column to the export", raw.key)
    return [role or "customer" for role in roles]


def build_conversation(raw: RawConversation, path: str, fmt: str, row: ManifestRow | None,
                       reps: RepDirectory) -> Conversation:
    """Settle roles, times and metadata of a parsed conversation (manifest > file > directory)."""
    own = metadata_row({**raw.metadata, "file": path}, path, f"metadata of {raw.key or 'the conversation'}")
    rep_name = (row.rep if row else None) or own.rep
    roles = _roles(raw, rep_name, reps, path)
    first_sent = next((m.sent_at for m in raw.messages if m.sent_at), None)
    utterances = tuple(
        Utterance(
            index=index,
            speaker_role=role,
            speaker_name=message.speaker,
            text=message.text,
            start_s=message.start_s if message.start_s is not None else (
                (message.sent_at - first_sent).total_seconds() if message.sent_at and first_sent else None),
            end_s=message.end_s,
        )
        for index, (message, role) in enumerate(zip(raw.messages, roles))
    )
    rep = rep_name or reps.canonical(next(u.speaker_name for u in utterances if u.speaker_role == "rep"))
    customer = next((u.speaker_name for u in utterances if u.speaker_role == "customer"), None)

    def pick(name: str, fallback: object = None) -> object:
        for source in (row, own):
            value = getattr(source, name, None) if source else None
            if value not in (None, ""):
                return value
        return fallback

    started_at = pick("started_at", first_sent)
    has_call_times = any(u.end_s is not None for u in utterances)
    meta = ConversationMeta(
        channel=pick("channel", {"wechat": "wechat"}.get(fmt, "phone" if has_call_times else "chat")),
        language=pick("language", detect_language([u.text for u in utterances])),
        industry=pick("industry"),
        rep=rep,
        team=pick("team", reps.team_of(rep)),
        customer=pick("customer", customer),
        deal_id=pick("deal_id"),
        stage=pick("stage"),
        outcome=pick("outcome"),
        started_at=started_at,
    )
    conversation_id = content_hash([(u.speaker_name, u.text, u.start_s) for u in utterances],
                                   started_at.isoformat() if started_at else None)
    return Conversation(conversation_id=conversation_id, source_path=path, source_key=raw.key,
                        source_format=fmt, meta=meta, utterances=utterances)

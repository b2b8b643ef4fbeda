"""Where a conversation's CRM metadata and speaker roles come from.

- the **manifest** (``manifest.csv`` or ``manifest.yaml`` beside the exports, or ``--manifest``):
  one row per conversation with rep, team, customer, deal, stage, outcome, time;
- the **rep directory** (``configs/reps.yaml``): the company's reps and their teams, so a chat
  without a manifest row still knows which participant is the rep.
docs/formats.md documents both.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import yaml

from pipeline.ingest.encoding import read_text
from pipeline.ingest.errors import IngestError
from pipeline.ingest.raw import parse_time
from pipeline.models import CHANNELS, LANGUAGES, OUTCOMES

MANIFEST_NAMES: tuple[str, ...] = ("manifest.csv", "manifest.yaml", "manifest.yml")


@dataclass(frozen=True)
class ManifestRow:
    """One manifest row: which conversation, and what the CRM knows about it."""

    file: str
    conversation_key: str | None = None
    channel: str | None = None
    language: str | None = None
    industry: str | None = None
    rep: str | None = None
    team: str | None = None
    customer: str | None = None
    deal_id: str | None = None
    stage: str | None = None
    outcome: str | None = None
    started_at: datetime | None = None
    rep_channel: str | None = None  # stereo recordings: which channel is the rep (left/right)


MANIFEST_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ManifestRow))


@dataclass(frozen=True)
class Manifest:
    """Manifest rows indexed by (resolved file path, conversation key)."""

    path: str
    rows: dict[tuple[str, str | None], ManifestRow]

    def lookup(self, file: str | Path, key: str | None) -> ManifestRow | None:
        return self.rows.get((str(Path(file).resolve()), key))

    def files(self) -> set[str]:
        return {file for file, _key in self.rows}


def metadata_row(raw: dict, path: str, where: str) -> ManifestRow:
    """Validate one row of metadata (manifest row or a JSON file's ``metadata``)."""
    values: dict[str, object] = {}
    for column, value in raw.items():
        column = str(column).strip().lower()
        if column not in MANIFEST_COLUMNS:
            raise IngestError(path, "manifest", f"unknown column {column!r}",
                              f"use only: {', '.join(MANIFEST_COLUMNS)}")
        text = "" if value is None else str(value).strip()
        if text:
            values[column] = text
    if "file" not in values:
        raise IngestError(path, "manifest", f"{where} has no 'file'", "name the export file of every row")
    allowed = {"channel": CHANNELS, "language": LANGUAGES, "outcome": OUTCOMES, "rep_channel": ("left", "right")}
    for column, choices in allowed.items():
        if column in values and values[column] not in choices:
            raise IngestError(path, "manifest", f"{where}: {column} {values[column]!r} is not allowed",
                              f"use one of: {', '.join(choices)}")
    if "started_at" in values:
        values["started_at"] = parse_time(str(values["started_at"]), path, where)
    return ManifestRow(**values)


def load_manifest(path: str | Path) -> Manifest:
    """Read a CSV or YAML manifest; file names in it are relative to the manifest's folder."""
    path = Path(path)
    text, _encoding = read_text(path)
    if path.suffix.lower() == ".csv":
        raw_rows = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise IngestError(str(path), "manifest", f"invalid YAML ({exc})", "fix the YAML syntax") from exc
        if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
            raise IngestError(str(path), "manifest", "expected a list of rows (mappings)",
                              "write one '- file: ...' entry per conversation")
        raw_rows = document
    rows: dict[tuple[str, str | None], ManifestRow] = {}
    for number, raw in enumerate(raw_rows, start=2 if path.suffix.lower() == ".csv" else 1):
        row = metadata_row(raw, str(path), f"row {number}")
        resolved = str((path.parent / row.file).resolve())
        if (resolved, row.conversation_key) in rows:
            raise IngestError(str(path), "manifest", f"row {number} repeats {row.file} "
                              f"{row.conversation_key or ''}".rstrip(), "keep one row per conversation")
        rows[(resolved, row.conversation_key)] = row
    return Manifest(path=str(path), rows=rows)


def find_manifest(folder: Path) -> Path | None:
    """The manifest file in a folder, if it has one."""
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


@dataclass(frozen=True)
class RepDirectory:
    """The company's reps: name or alias → (canonical name, team)."""

    teams_by_name: dict[str, str | None]
    canonical_names: dict[str, str] = field(default_factory=dict)

    def is_rep(self, name: str) -> bool:
        return name in self.teams_by_name

    def team_of(self, name: str) -> str | None:
        return self.teams_by_name.get(name)

    def canonical(self, name: str) -> str:
        """The rep's directory name for an alias ("Emily" → "Emily Carter"), so per-rep
        reports are not split by how a rep signs their messages."""
        return self.canonical_names.get(name, name)


def load_rep_directory(path: str | Path | None) -> RepDirectory:
    """Read ``configs/reps.yaml`` (``reps: [{name, team, aliases}]``); no file means no reps."""
    if path is None or not Path(path).exists():
        return RepDirectory({})
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise IngestError(str(path), "config", f"cannot read the rep directory ({exc})",
                          "fix the YAML; see docs/formats.md") from exc
    if not isinstance(document, dict) or set(document) - {"reps"} or not isinstance(document.get("reps", []), list):
        raise IngestError(str(path), "config", "expected 'reps:' with a list of {name, team, aliases}",
                          "see docs/formats.md")
    teams: dict[str, str | None] = {}
    canonical: dict[str, str] = {}
    for number, entry in enumerate(document.get("reps", []), start=1):
        if not isinstance(entry, dict) or "name" not in entry or set(entry) - {"name", "team", "aliases"}:
            raise IngestError(str(path), "config", f"rep {number} needs 'name' and only name/team/aliases",
                              "see docs/formats.md")
        for name in [entry["name"], *entry.get("aliases", [])]:
            teams[str(name)] = entry.get("team")
            canonical[str(name)] = str(entry["name"])
    return RepDirectory(teams, canonical)

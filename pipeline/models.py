"""Frozen records passed between the pipeline stages.

The chain reads ``Conversation`` (with its ``Utterance`` s) → ``KeyEvent`` → ``TreeNode`` →
``NodeScore`` / ``ConversationScore``. Records never change after they are built: a stage
that needs a different value makes a copy with :func:`dataclasses.replace`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SpeakerRole = Literal["rep", "customer", "other"]
SPEAKER_ROLES: tuple[str, ...] = ("rep", "customer", "other")

Channel = Literal["wechat", "wecom", "phone", "web_chat", "meeting", "chat"]
CHANNELS: tuple[str, ...] = ("wechat", "wecom", "phone", "web_chat", "meeting", "chat")

Outcome = Literal["won", "lost", "open"]
OUTCOMES: tuple[str, ...] = ("won", "lost", "open")

LANGUAGES: tuple[str, ...] = ("zh", "en")


@dataclass(frozen=True)
class Word:
    """One recognised word of a recording, in seconds from its start."""

    start_s: float
    end_s: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class Utterance:
    """One spoken turn or one chat message.

    ``start_s``/``end_s`` are seconds from the start of the conversation when the source
    knows them (call transcripts: both; chat exports: ``start_s`` from the message time).
    ``role_confidence`` is set when the role was inferred (mono recordings), 0.5–1.0; None
    when the source stated it. ``words`` carries word timestamps of transcribed audio.
    """

    index: int
    speaker_role: SpeakerRole
    speaker_name: str
    text: str
    start_s: float | None = None
    end_s: float | None = None
    role_confidence: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class ConversationMeta:
    """What the CRM knows about a conversation; every field is optional."""

    channel: str = "chat"
    language: str | None = None
    industry: str | None = None
    rep: str | None = None
    team: str | None = None
    customer: str | None = None
    deal_id: str | None = None
    stage: str | None = None
    outcome: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class TranscriptInfo:
    """How a recording became text: recorded with every transcript, so results can be traced
    to the model and options that produced them."""

    audio_sha256: str
    duration_s: float
    channels: int
    channels_transcribed: int  # 1 for mono and for two identical channels
    sample_rate: int
    model: str
    compute_type: str
    options: tuple[tuple[str, object], ...]
    language_probability: float
    role_method: str  # stereo_channels | mono_cues


@dataclass(frozen=True)
class Conversation:
    """A whole conversation with its metadata, as read from one source.

    ``conversation_id`` is a hash of the content (speakers, texts, times), so the same
    conversation read twice, from any file name, gets the same id.
    ``source_path`` and ``source_key`` say where it came from (``source_key`` tells apart
    several conversations of one CSV/JSONL file).
    """

    conversation_id: str
    source_path: str
    source_key: str | None
    source_format: str
    meta: ConversationMeta
    utterances: tuple[Utterance, ...]
    transcript: TranscriptInfo | None = None

    @property
    def language(self) -> str:
        return self.meta.language or "zh"


@dataclass(frozen=True)
class KeyEvent:
    """A key event (SOP node) found in one utterance.

    ``source`` traces the finding, e.g. ``rule:price_objection/cue:太贵`` (the spaCy
    ``SpanRuler`` idea of a pattern id), so every event can be explained.
    """

    node_id: str
    utterance_index: int
    confidence: float
    evidence: str
    source: str


@dataclass(frozen=True)
class TreeNode:
    """One node of a conversation's key-event tree.

    A node is either an *occurrence* of an SOP node (consecutive utterances tagged with the
    same node by the same side) or a *reply* (an answering turn with no event of its own).
    ``parent`` is the ``key`` of the node it answers, ``None`` at the top level.
    """

    key: int
    parent: int | None
    kind: Literal["occurrence", "reply"]
    node_id: str | None
    speaker_role: SpeakerRole
    first_utterance: int
    last_utterance: int
    depth: int


@dataclass(frozen=True)
class DimensionScore:
    """One scoring dimension of one node: 0–100, with why and the evidence behind it.

    ``score`` is None when the dimension could not be observed (e.g. no customer turn after
    the node); the node total then leaves it out.
    """

    dimension: str
    score: float | None
    explanation: str
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NodeScore:
    """Quality of one SOP node in one conversation.

    ``status`` is ``present``, ``missed`` (required but absent: every dimension 0) or
    ``not_applicable`` (optional and absent: not scored, ``total`` is None).
    """

    node_id: str
    status: Literal["present", "missed", "not_applicable"]
    dimensions: tuple[DimensionScore, ...]
    total: float | None
    tip: str
    utterance_indexes: tuple[int, ...] = ()

    def dimension(self, name: str) -> DimensionScore:
        for score in self.dimensions:
            if score.dimension == name:
                return score
        raise KeyError(name)


@dataclass(frozen=True)
class ConversationScore:
    """SOP execution of a whole conversation."""

    coverage: float
    missing_required: tuple[str, ...]
    order_conformance: float | None
    node_order: tuple[str, ...]
    total: float


@dataclass(frozen=True)
class Analysis:
    """Everything the text stages derive from one conversation: what the store writes."""

    conversation: Conversation
    events: tuple[KeyEvent, ...]
    tree: tuple[TreeNode, ...]
    node_scores: tuple[NodeScore, ...]
    conversation_score: ConversationScore
    sop_version: str
    tagger_name: str
    #: Conversation metrics (pipeline.scoring.interaction.Metric) and auto notes
    #: (pipeline.scoring.notes.ConversationNotes); typed loosely to keep this module first in line.
    metrics: tuple = ()
    notes: object | None = None


def content_hash(*parts: object) -> str:
    """A short stable hash of JSON-serialisable parts (16 hex digits of SHA-256)."""
    payload = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

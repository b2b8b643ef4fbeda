"""Transcription of call recordings (issue #3 adds the faster-whisper adapter).

Nothing downstream imports an ASR library: stages receive a :class:`Conversation` whose
utterances carry speaker roles and ``start_s``/``end_s``, whatever produced them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pipeline.models import Conversation, ConversationMeta


class Transcriber(Protocol):
    """Turns one recording into a conversation with timed, role-labelled utterances."""

    #: Model name, compute type and decoding options, stored with every transcript.
    name: str

    def transcribe(self, audio_path: Path, meta: ConversationMeta) -> Conversation:
        """Transcribe a recording; raise ``IngestError`` naming the file for bad audio."""
        ...

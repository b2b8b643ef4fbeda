"""The tagger interface: anything that turns a conversation into key events.

The rule tagger (``rules.py``) is the explainable first layer; learned taggers (issue #4) sit
behind the same interface, so the flow, the store and the board never change when the
tagging does.
"""

from __future__ import annotations

from typing import Protocol

from pipeline.models import Conversation, KeyEvent
from pipeline.sop import Sop


class Tagger(Protocol):
    """Finds SOP key events in a conversation."""

    #: Stored with every result (``conversations.tagger``), e.g. ``rules.v1``.
    name: str

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """Every key event found, ordered by utterance index, then SOP order."""
        ...

"""The tagger interface: anything that turns a conversation into key events.

The rule tagger (``rules.py``) is the explainable first layer; learned taggers (issue #4) sit
behind the same interface, so the flow, the store and the board never change when the
tagging does.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class StoredEvents:
    """A conversation's stored events replayed as a tagger: ``keynode rescore`` scores them under
    an edited SOP without re-tagging (so nothing a person corrected is re-decided by a model).
    Events of nodes the SOP no longer has are dropped."""

    name: str
    events: tuple[KeyEvent, ...]

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """The stored events whose node the SOP still has, in utterance then SOP order."""
        order = {node_id: i for i, node_id in enumerate(sop.node_ids)}
        kept = [e for e in self.events if e.node_id in order and e.utterance_index < len(conversation.utterances)]
        return tuple(sorted(kept, key=lambda e: (e.utterance_index, order[e.node_id])))

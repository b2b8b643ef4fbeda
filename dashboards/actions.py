"""What people do on the board besides reading: correct a label, dispute a score, resolve a
dispute — and the access log. Each checks the viewer's role and that the conversation is one
they may see (through :mod:`dashboards.data`), then writes through the review store
(:mod:`pipeline.store.review`, the only writer of the review database). The pipeline's own
database is never written from the board.
"""

from __future__ import annotations

from pipeline.access import Viewer
from pipeline.store.review import ReviewStore

from dashboards import data


def _require_conversation(viewer: Viewer, conversation_id: str) -> None:
    if data.conversation(viewer, conversation_id) is None:
        raise PermissionError(f"conversation {conversation_id} is not one {viewer.username} may see")


def record_correction(viewer: Viewer, conversation_id: str, utterance_index: int, node_id: str, action: str,
                      note: str | None = None) -> str:
    """Add or remove the label ``node_id`` on one utterance, as ``viewer``; return the
    correction's id. ``keynode train-tagger --db`` learns from it."""
    if not viewer.can_correct_labels:
        raise PermissionError(f"{viewer.role}s cannot correct labels")
    _require_conversation(viewer, conversation_id)
    if utterance_index not in set(data.utterances(viewer, conversation_id)["utterance_index"]):
        raise ValueError(f"conversation {conversation_id} has no utterance #{utterance_index}")
    with ReviewStore(data.db_path()) as review:
        return review.add_correction(conversation_id, int(utterance_index), node_id, action, viewer.username, note)


def open_dispute(viewer: Viewer, conversation_id: str, node_id: str, comment: str) -> str:
    """A rep disputes the score of ``node_id`` in one of their conversations; return its id."""
    if not viewer.can_dispute:
        raise PermissionError(f"{viewer.role}s cannot dispute scores")
    _require_conversation(viewer, conversation_id)
    with ReviewStore(data.db_path()) as review:
        return review.open_dispute(conversation_id, node_id, viewer.username, comment)


def resolve_dispute(viewer: Viewer, dispute_id: str, status: str, resolution: str) -> None:
    """A manager (of the conversation's team) or an admin accepts or rejects a dispute."""
    if not viewer.can_resolve_disputes:
        raise PermissionError(f"{viewer.role}s cannot resolve disputes")
    mine = data.disputes(viewer, status=None)
    if dispute_id not in set(mine["dispute_id"]):
        raise PermissionError(f"dispute {dispute_id} is not on a conversation {viewer.username} may see")
    with ReviewStore(data.db_path()) as review:
        review.resolve_dispute(dispute_id, viewer.username, status, resolution)


def log_access(viewer: Viewer, conversation_id: str, page: str) -> None:
    """Record that ``viewer`` opened ``conversation_id`` on ``page``."""
    with ReviewStore(data.db_path()) as review:
        review.log_access(viewer.username, viewer.role, conversation_id, page)

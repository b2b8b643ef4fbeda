"""Scoring: node quality on four dimensions and SOP execution per conversation."""

from pipeline.scoring.conversation import score_conversation
from pipeline.scoring.nodes import score_node, score_nodes

__all__ = ["score_conversation", "score_node", "score_nodes"]

"""The text stages chained: tag → event tree → node scores → conversation score.

Pure: a conversation and an SOP in, an :class:`Analysis` out. The flow runs this once per
conversation; the store writes what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict

from pipeline.events import Tagger, build_event_tree
from pipeline.models import Analysis, Conversation, content_hash
from pipeline.scoring import score_conversation, score_nodes
from pipeline.scoring.interaction import conversation_metrics, interrupting_utterances
from pipeline.scoring.notes import conversation_notes
from pipeline.scoring.sentiment import customer_polarity, default_sentiment
from pipeline.sop import Sop

#: Bumped when the code changes results for the same input, so stored results get rewritten.
PIPELINE_VERSION = "3"


def analyze(conversation: Conversation, sop: Sop, tagger: Tagger) -> Analysis:
    """Tag, build the event tree and score one conversation."""
    events = tagger.tag(conversation, sop)
    tree = build_event_tree(conversation, events, sop)
    # The tagger's sentence vectors (if it made any) let the sentiment model read the customer
    # with its more accurate classifier at no extra cost.
    polarity = customer_polarity(conversation, vector_cache=getattr(tagger, "embedding_cache", None))
    metrics = conversation_metrics(conversation, sop.scoring.metrics)
    node_scores = score_nodes(conversation, events, tree, sop, polarity, interrupting_utterances(metrics))
    return Analysis(
        conversation=conversation,
        events=events,
        tree=tree,
        node_scores=node_scores,
        conversation_score=score_conversation(events, node_scores, sop),
        sop_version=sop.version,
        tagger_name=tagger.name,
        metrics=metrics,
        notes=conversation_notes(conversation, events, tree, sop, polarity),
    )


def fingerprint(conversation: Conversation, sop: Sop, tagger: Tagger, privacy: Mapping | None = None) -> str:
    """What a stored analysis depends on. Equal fingerprints mean the stored rows are current.

    The source path is left out: the same conversation exported twice under different file
    names is the same conversation. ``privacy`` is the redaction the (already redacted)
    conversation went through (:meth:`pipeline.privacy.PrivacyConfig.fingerprint`: mode, lang,
    patterns, keep_original, never the salt), so changing it re-processes; None for results
    stored before redaction existed.
    """
    record = asdict(conversation)
    record.pop("source_path")
    parts = [record, sop.version, tagger.name, default_sentiment().version, PIPELINE_VERSION]
    if privacy is not None:
        parts.append(dict(privacy))
    return content_hash(*parts)

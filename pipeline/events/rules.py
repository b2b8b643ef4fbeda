"""The rule tagger: key events from the cue phrases and patterns of ``configs/sop.yaml``.

Every event it emits names the node and the cues that fired (``rule:next_step/周四,re:…``), so
a manager can see why an utterance was tagged and a company can fix its SOP file, not code.
"""

from __future__ import annotations

from pipeline.models import Conversation, KeyEvent, Utterance
from pipeline.sop import Sop, SopNode
from pipeline.text import normalize

# One cue is decent evidence; each further distinct cue adds some, up to a ceiling that
# leaves room above for learned models that agree with the rules.
_BASE_CONFIDENCE = 0.6
_PER_EXTRA_CUE = 0.1
_MAX_CONFIDENCE = 0.95


def _applies(node: SopNode, utterance: Utterance) -> bool:
    if utterance.speaker_role == "other":
        return False
    if node.speaker != "any" and node.speaker != utterance.speaker_role:
        return False
    return node.within_first is None or utterance.index < node.within_first


class RuleTagger:
    """Tags an utterance with a node when at least ``min_cues`` of the node's cues match and
    none of its negative cues does, and the speaker and position fit the node's configuration."""

    name = "rules.v1"

    def tag(self, conversation: Conversation, sop: Sop) -> tuple[KeyEvent, ...]:
        """Every key event the SOP rules find, by utterance then SOP order."""
        events: list[KeyEvent] = []
        for utterance in conversation.utterances:
            text = normalize(utterance.text)
            for node in sop.nodes:
                if not _applies(node, utterance) or node.negative_cues.match(text):
                    continue
                hits = node.cues.match(text)
                # Some nodes need corroboration: "周六见" alone is a goodbye, not a next step.
                if len(hits) < node.min_cues:
                    continue
                confidence = min(_MAX_CONFIDENCE, _BASE_CONFIDENCE + _PER_EXTRA_CUE * (len(hits) - 1))
                events.append(KeyEvent(
                    node_id=node.node_id,
                    utterance_index=utterance.index,
                    confidence=round(confidence, 2),
                    evidence=utterance.text,
                    source=f"rule:{node.node_id}/" + ",".join(hits[:5]),
                ))
        return tuple(events)

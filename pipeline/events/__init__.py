"""Key events (关键事件): the tagger interface, the SOP rule tagger and the event tree."""

from pipeline.events.rules import RuleTagger
from pipeline.events.tagger import Tagger
from pipeline.events.tree import build_event_tree, descendants

__all__ = ["RuleTagger", "Tagger", "build_event_tree", "descendants", "default_tagger"]


def default_tagger() -> Tagger:
    """The tagger the flow uses unless told otherwise."""
    return RuleTagger()

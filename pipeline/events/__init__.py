"""Key events (关键事件): the tagger interface, the SOP rule tagger, learned taggers and the event tree."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pipeline.events.rules import RuleTagger
from pipeline.events.tagger import Tagger
from pipeline.events.tree import build_event_tree, descendants

__all__ = ["DEFAULT_MODEL", "RuleTagger", "Tagger", "build_event_tree", "default_tagger", "descendants",
           "load_tagger"]

#: The trained tagger the pipeline uses when it exists (``keynode train-tagger`` writes it).
DEFAULT_MODEL = Path("models/tagger.pkl")


@lru_cache(maxsize=4)
def _learned(path: str, mtime_ns: int, encoder: bool = True) -> Tagger:
    from pipeline.events.learned import LearnedTagger, load

    model = load(path)
    return LearnedTagger(model if encoder else model.without_encoder())


def load_tagger(spec: str | None = None) -> Tagger:
    """``rules`` → the SOP rule tagger; ``transformer[:DIR]`` → a fine-tuned transformers
    classifier (``$KEYNODE_TRANSFORMER_DIR``); a path → that trained model; ``no-encoder[:PATH]`` →
    that model (``models/tagger.pkl``) without its context encoder (faster, a little less accurate);
    ``None``/``default`` → ``$KEYNODE_TAGGER``, else ``models/tagger.pkl`` if it exists, else the rules.

    A trained model is loaded once per process and file version.
    """
    spec = spec or os.environ.get("KEYNODE_TAGGER") or "default"
    if spec == "rules":
        return RuleTagger()
    if spec == "transformer" or spec.startswith("transformer:"):
        from pipeline.events.transformer import TransformerTagger

        return TransformerTagger(spec.partition(":")[2] or None)
    encoder = not (spec == "no-encoder" or spec.startswith("no-encoder:"))
    if not encoder:
        spec = spec.partition(":")[2] or str(DEFAULT_MODEL)
    path = DEFAULT_MODEL if spec == "default" else Path(spec)
    if not path.is_file():
        if spec == "default":
            return RuleTagger()
        raise FileNotFoundError(f"tagger model {path} does not exist: train one with `keynode train-tagger`, "
                                "or use --tagger rules")
    return _learned(str(path.resolve()), path.stat().st_mtime_ns, encoder)


def default_tagger() -> Tagger:
    """The tagger the flow uses unless told otherwise (see :func:`load_tagger`)."""
    return load_tagger()

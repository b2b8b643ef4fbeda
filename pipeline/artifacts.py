"""Model artifacts the project trains itself (the tagger, the customer-reaction model): one
pickle with the fitted objects, the artifact format and the scikit-learn that wrote it,
gzip-compressed (a quarter off the tagger: its vocabularies are text).

A pickled scikit-learn model is only safe to load under the version that wrote it, so loading
under another refuses with the command that retrains it. Writes are atomic: a crash never
leaves half an artifact where the pipeline loads it.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path


def drop_pruned_vocabulary(*vectorizers) -> None:
    """Forget the n-grams a vectoriser pruned (``stop_words_``): only kept for introspection,
    they are most of a pickled TF-IDF vectoriser's size (scikit-learn's own advice)."""
    for vectorizer in vectorizers:
        if hasattr(vectorizer, "stop_words_"):
            del vectorizer.stop_words_


def save_artifact(model: object, path: str | Path, artifact_format: int) -> Path:
    """Pickle ``model`` with its format and the scikit-learn version, gzip it, write atomically."""
    import sklearn

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps({"format": artifact_format, "sklearn": sklearn.__version__, "model": model})
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(gzip.compress(payload, compresslevel=6))
    temporary.replace(path)
    return path


def load_artifact(path: str | Path, artifact_format: int, retrain: str, error: type[Exception] = ValueError):
    """Unpickle an artifact written by :func:`save_artifact`; refuse another format or
    scikit-learn with ``error`` naming the ``retrain`` command."""
    import sklearn

    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":  # gzip's magic; artifacts written before compression are plain pickles
        data = gzip.decompress(data)
    payload = pickle.loads(data)  # our own artifact, from the project's models/ folder
    if payload.get("format") != artifact_format or payload.get("sklearn") != sklearn.__version__:
        raise error(f"{path} was written by format {payload.get('format')} / scikit-learn "
                    f"{payload.get('sklearn')}; this is {artifact_format} / {sklearn.__version__}: "
                    f"retrain with `{retrain}`")
    return payload["model"]

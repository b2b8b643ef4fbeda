"""Character n-gram TF-IDF rows, computed as scikit-learn's ``TfidfVectorizer`` computes them.

The tagger and the sentiment model each transform a conversation's texts with two fitted
``char_wb`` vectorisers (1–4 and 1–3 characters), and the sentiment model reads the same texts
again as the context of the next turn. scikit-learn cuts every text into n-grams and looks each
one up once per vectoriser, and validates its input on each call: on a chat of 25 messages that
was most of the tagger's time (docs/scaling.md).

Here every n-gram any loaded vectoriser knows gets one id in a shared index. A text is cut into
n-grams (up to the longest length any vectoriser needs) and looked up once; the ids are kept in
a small cache, and each vectoriser turns them into its own columns with one array lookup. A
shorter vectoriser simply has no column for a longer n-gram. The rows equal scikit-learn's,
bit for bit (a test compares them).
"""

from __future__ import annotations

import re
import threading
import weakref
from functools import lru_cache

import numpy as np

# scikit-learn's own white-space rule for char_wb (``_VectorizerMixin._white_spaces``).
_WHITE_SPACES = re.compile(r"\s\s+")
#: The longest n-gram any of Keynode's vectorisers uses: every text is cut up to this length.
MAX_NGRAM = 4


def char_wb_ngrams(text: str) -> list[str]:
    """The lower-cased text's n-grams of 1 to :data:`MAX_NGRAM` characters inside word
    boundaries, each word padded with a space, in scikit-learn's ``char_wb`` order."""
    ngrams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        length = len(word)
        for n in range(1, MAX_NGRAM + 1):
            if length <= n:  # the whole padded word, counted once and no longer n-gram (as scikit-learn)
                ngrams.append(word)
                break
            ngrams.extend([word[start:start + n] for start in range(length - n + 1)])
    return ngrams


#: Every n-gram of every vocabulary registered so far → its id (the ids only ever grow).
_IDS: dict[str, int] = {}
_REGISTERING = threading.Lock()


# A conversation's texts are transformed by up to four vectorisers one after another; 4,096
# texts hold the longest call's (an array of ~100 ids a text: under 2 MB).
@lru_cache(maxsize=4_096)
def _text_ids(text: str, index_size: int) -> np.ndarray:
    """The shared ids of the text's n-grams, in order (-1: no vocabulary has it).

    Cached per ``index_size`` (the index's size when asked), not cleared when a vocabulary is
    registered: a task thread may register the customer-reaction model's vocabulary while
    another is cutting a text, and its ids, cached after a clear, would miss the new n-grams.
    A caller's own vectoriser was registered before it asked, so its size covers them."""
    lookup = _IDS.get
    return np.fromiter((lookup(ngram, -1) for ngram in char_wb_ngrams(text)), dtype=np.int64)


def _register(vocabulary: dict[str, int]) -> None:
    with _REGISTERING:
        for ngram in vocabulary:
            _IDS.setdefault(ngram, len(_IDS))


class CharNgramTfidf:
    """A fitted ``TfidfVectorizer``'s ``transform`` for the settings Keynode trains with
    (``char_wb``, n-grams from 1 to at most :data:`MAX_NGRAM`, lower-cased, l2 norm); any other
    vectoriser is passed through to scikit-learn unchanged."""

    def __init__(self, vectorizer):
        self.vectorizer = vectorizer
        self.fast = (vectorizer.analyzer == "char_wb" and vectorizer.ngram_range[0] == 1
                     and vectorizer.ngram_range[1] <= MAX_NGRAM and vectorizer.lowercase
                     and vectorizer.preprocessor is None and vectorizer.strip_accents is None
                     and not vectorizer.binary and vectorizer.norm == "l2" and vectorizer.use_idf)
        if self.fast:
            self.vocabulary: dict[str, int] = vectorizer.vocabulary_
            self.idf = np.asarray(vectorizer.idf_, dtype=np.float64)
            self.sublinear_tf = bool(vectorizer.sublinear_tf)
            self.dtype = vectorizer.dtype
            _register(self.vocabulary)
            self._columns = np.zeros(0, dtype=np.int64)

    def _column_of_id(self) -> np.ndarray:
        """Shared id → this vocabulary's column (-1: none); its last entry answers id -1."""
        if len(self._columns) != len(_IDS) + 1:  # the index grew since: map the new ids too
            columns = np.full(len(_IDS) + 1, -1, dtype=np.int64)
            for ngram, column in self.vocabulary.items():
                columns[_IDS[ngram]] = column
            self._columns = columns
        return self._columns

    def transform(self, texts: list[str]):
        """The TF-IDF rows of ``texts`` (a CSR matrix, one row per text)."""
        from scipy import sparse

        if not self.fast:
            return self.vectorizer.transform(texts)
        width = len(self.vocabulary)
        index_size = len(_IDS)
        ids = [_text_ids(text, index_size) for text in texts]
        # The column map is read after the ids, so it covers every id they hold.
        found = self._column_of_id()[np.concatenate(ids)] if ids else np.zeros(0, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), [len(i) for i in ids])
        keep = found >= 0
        # Counted per (row, column): unique sorts the keys, so each row's columns come out in
        # order, as scikit-learn's do.
        keys, counts = np.unique(rows[keep] * width + found[keep], return_counts=True)
        columns = (keys % width).astype(np.int32)
        indptr = np.searchsorted(keys // width, np.arange(len(texts) + 1), side="left").astype(np.int32)
        data = counts.astype(np.float64)
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1.0
        data *= self.idf[columns]
        # l2 norm per row, the squares summed in storage order as scikit-learn's normalize does.
        lengths = np.diff(indptr)
        norms = np.sqrt(np.bincount(np.repeat(np.arange(len(texts)), lengths), weights=data * data,
                                    minlength=len(texts)))
        norms[norms == 0.0] = 1.0  # an empty row stays empty
        data /= np.repeat(norms, lengths)
        return sparse.csr_matrix((data.astype(self.dtype, copy=False), columns, indptr), shape=(len(texts), width))


_TRANSFORMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def tfidf_transform(vectorizer, texts: list[str]):
    """``vectorizer.transform(texts)``, through a :class:`CharNgramTfidf` kept per fitted
    vectoriser (made again if the vectoriser was fitted again since)."""
    transform = _TRANSFORMS.get(vectorizer)
    if transform is None or (transform.fast and transform.vocabulary is not vectorizer.vocabulary_):
        transform = _TRANSFORMS[vectorizer] = CharNgramTfidf(vectorizer)
    return transform.transform(texts)

"""The n-gram TF-IDF transform gives scikit-learn's rows, exactly."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.ngrams import CharNgramTfidf, char_wb_ngrams, tfidf_transform

TEXTS = ["那个 一年九百多 是不是有点贵了", "價格倒不是問題", "多少钱？", "嗯", "", "   ", "a", "ab", "abc",
         "Honestly  that's\tmore than we\npay today", "OK ok OK", "2.8 你能做我明天就换", "一副多少钱啊[流泪]",
         "hi there", "这个 套餐 八百八 一个月"]


def _fitted(ngram_range, **settings):
    return TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True, **settings).fit(TEXTS[:9])


@pytest.mark.parametrize("ngram_range", [(1, 4), (1, 3), (1, 1)])
def test_rows_equal_scikit_learn(ngram_range):
    vectorizer = _fitted(ngram_range)
    transform = CharNgramTfidf(vectorizer)
    assert transform.fast
    expected, rows = vectorizer.transform(TEXTS), transform.transform(TEXTS)
    assert rows.shape == expected.shape and rows.dtype == expected.dtype
    assert np.array_equal(rows.indptr, expected.indptr) and np.array_equal(rows.indices, expected.indices)
    assert np.array_equal(rows.data, expected.data)
    # Texts with no known n-gram are empty rows, as in scikit-learn.
    assert rows[TEXTS.index("")].nnz == 0 and rows[TEXTS.index("   ")].nnz == 0


def test_ngrams_are_scikit_learns_in_order():
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4)).build_analyzer()
    for text in TEXTS:
        assert char_wb_ngrams(text) == analyzer(text)
    # A padded word shorter than n is counted once, with no longer n-grams after it.
    assert char_wb_ngrams("a") == [" ", "a", " ", " a", "a ", " a "]


def test_other_settings_go_to_scikit_learn():
    vectorizer = TfidfVectorizer(analyzer="word").fit(["price too high", "next week"])
    transform = CharNgramTfidf(vectorizer)
    assert not transform.fast
    assert (transform.transform(["price is high"]) != vectorizer.transform(["price is high"])).nnz == 0
    assert not CharNgramTfidf(_fitted((2, 4))).fast


def test_a_vectorizer_fitted_again_is_read_again():
    vectorizer = _fitted((1, 3))
    tfidf_transform(vectorizer, TEXTS)
    vectorizer.fit(["完全不同的词表", "another vocabulary"])
    assert (tfidf_transform(vectorizer, TEXTS) != vectorizer.transform(TEXTS)).nnz == 0


def test_a_new_vocabulary_after_texts_were_cached_still_gives_exact_rows():
    first = _fitted((1, 4))
    assert (tfidf_transform(first, TEXTS) != first.transform(TEXTS)).nnz == 0  # the texts' ids are cached now
    # n-grams only this vectoriser knows ("pay", "today", 价格): ids the cache said were unknown.
    second = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).fit(TEXTS[9:] + ["价格 pay today"])
    assert (tfidf_transform(second, TEXTS) != second.transform(TEXTS)).nnz == 0
    assert (tfidf_transform(first, TEXTS) != first.transform(TEXTS)).nnz == 0

"""FlatForest: scikit-learn's gradient-boosted trees walked together, with the same answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from pipeline.events.trees import FlatForest


def _data(seed: int, rows: int = 400):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 6))
    y = ((x[:, 0] + x[:, 1] * x[:, 2] > 0.3) ^ (rng.random(rows) < 0.1)).astype(int)
    return x, y


def test_the_probabilities_are_scikit_learns_including_missing_values():
    x, y = _data(0)
    x[::7, 2] = np.nan  # trees learn a side for missing values; the walk must take it
    deep = HistGradientBoostingClassifier(max_iter=40, max_leaf_nodes=31, random_state=0).fit(x, y)
    shallow = HistGradientBoostingClassifier(max_iter=15, max_depth=2, class_weight="balanced",
                                             random_state=0).fit(x, 1 - y)
    forest = FlatForest({"deep": deep, "shallow": shallow})
    test, _ = _data(1, rows=50)
    test[::5, 2] = np.nan
    test[3, 0] = np.nan
    expected = np.column_stack([deep.predict_proba(test)[:, 1], shallow.predict_proba(test)[:, 1]])
    probabilities = forest.predict_proba(test.astype(np.float32))
    assert forest.names == ["deep", "shallow"]
    np.testing.assert_allclose(probabilities, expected, rtol=0, atol=1e-12)
    # Ties on a threshold go left, as in scikit-learn: ask about the thresholds themselves.
    predictor = deep._predictors[0][0]
    split = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)][0]
    on_threshold = test.copy()
    on_threshold[:, split["feature_idx"]] = split["num_threshold"]
    np.testing.assert_allclose(forest.predict_proba(on_threshold)[:, 0], deep.predict_proba(on_threshold)[:, 1],
                               rtol=0, atol=1e-12)
    assert forest.predict_proba(test[:0]).shape == (0, 2)


def test_multiclass_and_categorical_ensembles_are_refused():
    x, y = _data(2)
    multiclass = HistGradientBoostingClassifier(max_iter=3).fit(x, y + (x[:, 3] > 1))
    with pytest.raises(ValueError, match="binary classifiers only"):
        FlatForest({"three classes": multiclass})
    x[:, 4] = np.random.default_rng(3).integers(0, 4, size=len(x))
    categorical = HistGradientBoostingClassifier(max_iter=10, categorical_features=[4]).fit(x, y ^ (x[:, 4] == 2))
    with pytest.raises(ValueError, match="numeric splits only"):
        FlatForest({"categorical": categorical})

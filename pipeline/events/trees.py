"""Several fitted gradient-boosted tree ensembles evaluated at once, with numpy.

The learned tagger's second stage is one ``HistGradientBoostingClassifier`` per event, asked
about one conversation (a few dozen rows) at a time. scikit-learn walks each of its trees with
a separate call (input checks, a thread pool, an output array: about 12 µs per tree), which on
such small inputs cost nearly as much as all the rest of TF-IDF tagging together (profile of
the dev split: 1.0–1.4 of 3.0 CPU-s). :class:`FlatForest` copies every tree's nodes of every
event into flat arrays once and walks all the trees of all the events together, one level per step: the
same leaves, so the same probabilities (a test compares them with scikit-learn's). It reads
the fitted trees' private arrays (``_predictors``, ``_baseline_prediction``); an artifact
refuses to load under another scikit-learn version than it was trained with, so the layout
read here is the one that test checked.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


class FlatForest:
    """Probabilities of several binary ``HistGradientBoostingClassifier`` s, evaluated together.

    ``classifiers`` maps a name to a fitted classifier on numeric features (no categorical
    splits); :meth:`predict_proba` returns one column per name, in the mapping's order.
    """

    def __init__(self, classifiers: Mapping[str, object]):
        features, thresholds, missing_left, left, right, values, roots, tree_column = [], [], [], [], [], [], [], []
        baselines, depths, offset = [], [], 0
        for column, classifier in enumerate(classifiers.values()):
            if classifier.n_trees_per_iteration_ != 1:
                raise ValueError("FlatForest takes binary classifiers only")
            baselines.append(float(np.ravel(classifier._baseline_prediction)[0]))
            for (predictor,) in classifier._predictors:
                nodes = predictor.nodes
                if nodes["is_categorical"].any():
                    raise ValueError("FlatForest takes numeric splits only")
                leaf = nodes["is_leaf"].astype(bool)
                own = np.arange(len(nodes)) + offset
                features.append(nodes["feature_idx"])
                thresholds.append(nodes["num_threshold"])
                missing_left.append(nodes["missing_go_to_left"].astype(bool))
                # A leaf points at itself, so walking past it changes nothing: a row whose path
                # ends early in a deep tree can take as many steps as the tree's deepest path.
                left.append(np.where(leaf, own, nodes["left"].astype(np.int64) + offset))
                right.append(np.where(leaf, own, nodes["right"].astype(np.int64) + offset))
                values.append(np.where(leaf, nodes["value"], 0.0))
                roots.append(offset)
                tree_column.append(column)
                depths.append(int(nodes["depth"].max()))
                offset += len(nodes)
        self.names = list(classifiers)
        self._feature = np.concatenate(features)
        self._threshold = np.concatenate(thresholds)
        self._missing_left = np.concatenate(missing_left)
        self._children = np.column_stack([np.concatenate(left), np.concatenate(right)]).ravel()
        self._value = np.concatenate(values)
        # The deepest trees first: step k of the walk only moves the trees deeper than k, a
        # prefix of the roots (in the default model most trees are 6–9 levels deep, a few 14).
        order = np.argsort(-np.array(depths, dtype=np.int64), kind="stable")
        self._roots = np.array(roots, dtype=np.int64)[order]
        self._tree_column = np.array(tree_column, dtype=np.int64)[order]
        depths = np.array(depths)[order]
        self._deeper_than = [int((depths > step).sum()) for step in range(int(depths.max(initial=0)))]
        self._baselines = np.array(baselines)
        #: Which trees add up to each name's score: the columns of the walk's leaf values.
        self._trees_of = [np.flatnonzero(self._tree_column == column) for column in range(len(self.names))]

    def raw_predict(self, x: np.ndarray) -> np.ndarray:
        """The ensembles' raw scores (log-odds), rows × names."""
        x = np.asarray(x, dtype=np.float64)  # scikit-learn compares in double precision too
        has_missing = bool(np.isnan(x).any())
        # Row r's value of feature f sits at r * width + f of the flattened matrix.
        row_start = (np.arange(x.shape[0]) * x.shape[1])[:, None]
        flat = x.ravel()
        node = np.broadcast_to(self._roots, (x.shape[0], len(self._roots))).copy()
        for moving in self._deeper_than:
            at = node[:, :moving]
            value = flat[row_start + self._feature[at]]
            go_left = value <= self._threshold[at]
            if has_missing:
                go_left = np.where(np.isnan(value), self._missing_left[at], go_left)
            # Children side by side (left, right): one lookup instead of two and a choice.
            node[:, :moving] = self._children[2 * at + ~go_left]
        leaf_values = self._value[node]
        # numpy sums in another order than scikit-learn's tree-by-tree additions: the scores
        # agree to about 1e-15, not bit for bit.
        return self._baselines + np.column_stack([leaf_values[:, trees].sum(axis=1) for trees in self._trees_of])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Each ensemble's probability of the positive class, rows × names."""
        from scipy.special import expit

        return expit(self.raw_predict(x))

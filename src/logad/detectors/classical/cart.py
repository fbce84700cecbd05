"""A CART classification tree (Gini impurity, best split, grown until pure) in numpy.

Why our own: scikit-learn's tree is the same algorithm, but importing it pulls in scipy and
pandas (over a second of every `logad evaluate --detector decision-tree`, longer than the rest
of the command). This is the textbook tree sklearn's `DecisionTreeClassifier` grows with its
defaults: at each node the split with the lowest weighted Gini impurity of the two children,
over every feature and every midpoint between two distinct values (left: `x <= threshold`);
a node becomes a leaf when it is pure, holds one row, reaches `max_depth`, or no feature varies.
Ties between features are broken by a per-node feature order drawn from `random_state`, as
sklearn does. Leaves predict the weighted fraction of the positive class.
"""

from __future__ import annotations

import numpy as np

# values closer than this are one value (sklearn's FEATURE_THRESHOLD): no split between them
_SAME_VALUE = 1e-7


class GiniTree:
    """Fit on `x` (rows x features), binary labels `y` (0/1) and positive row weights."""

    def __init__(self, *, max_depth: int | None = None, random_state: int | None = 0) -> None:
        self.max_depth = max_depth
        self.random_state = random_state

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> GiniTree:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y).astype(np.int64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if x.ndim != 2 or len(x) != len(y) or w.shape != y.shape or len(y) == 0:
            raise ValueError(f"GiniTree.fit: x {x.shape}, y {y.shape}, weights {w.shape} do not fit together")
        rng = np.random.default_rng(self.random_state)
        self.n_features_ = x.shape[1]
        feature, threshold, left, right, value = [], [], [], [], []
        # grown depth-first from an explicit stack: (row indices, depth, parent node, is left child)
        stack: list[tuple[np.ndarray, int, int, bool]] = [(np.arange(len(y)), 0, -1, False)]
        while stack:
            rows, depth, parent, is_left = stack.pop()
            node = len(value)
            if parent >= 0:
                (left if is_left else right)[parent] = node
            wy = w[rows] * y[rows]
            total = float(w[rows].sum())
            value.append(float(wy.sum()) / total)
            feature.append(-1)
            threshold.append(0.0)
            left.append(-1)
            right.append(-1)
            if len(rows) < 2 or value[-1] in (0.0, 1.0) or (self.max_depth is not None and depth >= self.max_depth):
                continue
            split = _best_split(x[rows], w[rows], wy, rng.permutation(x.shape[1]))
            if split is None:
                continue
            f, t = split
            feature[node], threshold[node] = f, t
            go_left = x[rows, f] <= t
            # right pushed first so the left subtree is numbered first (sklearn's order)
            stack.append((rows[~go_left], depth + 1, node, False))
            stack.append((rows[go_left], depth + 1, node, True))
        self.feature_ = np.array(feature, dtype=np.int64)
        self.threshold_ = np.array(threshold, dtype=np.float64)
        self.left_ = np.array(left, dtype=np.int64)
        self.right_ = np.array(right, dtype=np.int64)
        self.value_ = np.array(value, dtype=np.float64)
        return self

    @property
    def node_count(self) -> int:
        return len(self.value_)

    def depth(self) -> int:
        depth = np.zeros(self.node_count, dtype=np.int64)
        for node in range(self.node_count):  # children are always numbered after their parent
            for child in (self.left_[node], self.right_[node]):
                if child >= 0:
                    depth[child] = depth[node] + 1
        return int(depth.max())

    def leaf_of(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_:
            raise ValueError(f"GiniTree: expected {self.n_features_} features, got shape {x.shape}")
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while len(rows):
            at = node[rows]
            f = self.feature_[at]
            inner = f >= 0
            rows, at, f = rows[inner], at[inner], f[inner]
            go_left = x[rows, f] <= self.threshold_[at]
            node[rows] = np.where(go_left, self.left_[at], self.right_[at])
        return node

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.value_[self.leaf_of(x)]
        return np.column_stack([1.0 - p, p])


def _best_split(x: np.ndarray, w: np.ndarray, wy: np.ndarray, order: np.ndarray) -> tuple[int, float] | None:
    """The (feature, threshold) whose two children have the lowest summed weighted Gini impurity,
    or None when no feature takes two distinct values. Features are tried in `order`; the first
    one reaching the best value wins a tie."""
    x = x[:, order]
    idx = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, idx, axis=0)
    # weight and positive weight left of the cut after each sorted position (all but the last)
    lw = np.cumsum(w[idx], axis=0)[:-1]
    lp = np.cumsum(wy[idx], axis=0)[:-1]
    total, pos = float(w.sum()), float(wy.sum())
    rw, rp = total - lw, pos - lp
    valid = xs[1:] > xs[:-1] + _SAME_VALUE
    if not valid.any():
        return None
    # weighted child impurity = total - [sum over children of (p^2 + n^2) / weight]: maximise the bracket
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (lp**2 + (lw - lp) ** 2) / lw + (rp**2 + (rw - rp) ** 2) / rw
    gain = np.where(valid, gain, -np.inf)
    best_per_feature = gain.max(axis=0)
    col = int(np.argmax(best_per_feature))  # first maximum in `order`
    pos_in_col = int(np.argmax(gain[:, col]))
    threshold = (xs[pos_in_col, col] + xs[pos_in_col + 1, col]) / 2.0
    if threshold == xs[pos_in_col + 1, col]:  # midpoint rounded up to the right value
        threshold = xs[pos_in_col, col]
    return int(order[col]), float(threshold)

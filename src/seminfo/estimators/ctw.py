"""Context-tree weighting (CTW) over finite alphabets, vectorised with numpy (theory §3).

Scope: the sequential probability assignment of Willems, Shtarkov and Tjalkens [1] with
Krichevsky-Trofimov (KT) estimators at every node, for a target alphabet of any size K:

    P_e(a | counts) = (n_a + 1/2) / (n + K/2),
    P_w(node) = 1/2 P_e(node) + 1/2 prod_children P_w(child)   (P_w(leaf) = P_e(leaf)),
    Q(y_t | context_t) = P_w(root after t) / P_w(root before t).

Context symbols may come from any finite alphabet (unvisited children have P_w = 1, so the tree's
branching factor never enters the computation). History before the start of the sequence is a
dedicated padding symbol.

How it is vectorised. The context path of every time step is known in advance, so the tree is
processed level by level, from the leaves up, with whole-sequence array operations and no Python
loop over time: for a node visited at times t1 < t2 < ..., the KT increments follow from the counts
before each visit (a stable sort by node id and a group-wise cumulative count); ln P_e after each
visit is their group-wise cumulative sum. At each visit of a node exactly one child changes, so
S(node) = sum over children of ln P_w(child) moves by delta_t = ln P_w(child after t) - ln P_w(child
after its previous visit) (0 before the child's first visit), and S after each visit is the
group-wise cumsum of delta_t. Then ln P_w = logaddexp(ln 1/2 + ln P_e, ln 1/2 + S). Cost: about
three stable sorts of n int64 keys per level; memory O(n) per level kept.

The full predictive distribution of every step (``full=True``) re-updates the same path with each
candidate symbol, costing K extra (n,) arrays per level.

Leaves out: CTW with unbounded depth, other estimators at the
nodes (Dirichlet-beta with other alpha), and arithmetic coding.

References
----------
1. F. M. J. Willems, Y. M. Shtarkov, T. J. Tjalkens, "The context-tree weighting method: basic
   properties", IEEE Trans. IT 41(3), 1995.
2. J. Jiao, H. H. Permuter, L. Zhao, Y.-H. Kim, T. Weissman, "Universal estimation of directed
   information", IEEE Trans. IT 59(10), 2013 (arXiv:1201.2334).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._validate import MAX_CELLS, as_int, as_symbols, check_size, same_length
from .counting import encode

__all__ = ["ctw_log_probs", "interleaved_context", "CTWPredictor"]

_LN_HALF = float(np.log(0.5))


def _groups(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable order by id and, per sorted position, the sorted index where its group starts."""
    order = np.argsort(ids, kind="stable")
    s = ids[order]
    first = np.empty(len(s), dtype=bool)
    first[:1] = True
    np.not_equal(s[1:], s[:-1], out=first[1:])
    idx = np.arange(len(s))
    start = np.maximum.accumulate(np.where(first, idx, 0))
    return order, start


def _group_cumsum(v_sorted: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum along axis 0 restarting at each group start ((n,) or (n, K))."""
    cs = np.cumsum(v_sorted, axis=0)
    return cs - (cs[start] - v_sorted[start])


def ctw_log_probs(target: np.ndarray, contexts: np.ndarray, alphabet_size: int,
                  context_alphabet: int, *, full: bool = False) -> np.ndarray:
    """Sequential CTW log-probabilities ln Q(target_t | contexts[t]) for every t.

    Parameters
    ----------
    target : (n,) int64
        Symbols in ``0..alphabet_size-1``.
    contexts : (n, D) int64
        Row t is the context path of step t, nearest symbol first; symbols in
        ``0..context_alphabet-1``. D = 0 gives the plain sequential KT estimator.
    alphabet_size : int
        K of the target.
    context_alphabet : int
        Number of distinct context symbols (including any padding symbol).
    full : bool, keyword-only
        Also return the whole predictive distribution of every step.

    Returns
    -------
    (n,) float64, or (n, K) float64 when `full`
        Natural-log probabilities of the realised symbols (their sum is ln P_w(root) of the whole
        sequence); with `full`, row t is ln Q(a | past) for every a = 0..K-1 (row t, column
        target[t] is the realised one), obtained by updating the same path with each candidate
        symbol in turn: ln P_w'(leaf) = ln P_e(before) + ln KT(a), then up the path
        ln P_w'(node) = logaddexp(ln 1/2 + ln P_e'(node), ln 1/2 + S(before) + ln P_w'(child) -
        ln P_w(child before)).
    """
    n, depth = contexts.shape
    k = int(alphabet_size)
    half_k = k / 2.0
    # node id of every step at every depth, root first
    nodes = [np.zeros(n, dtype=np.int64)]
    size = 1
    for d in range(depth):
        code, size = encode([nodes[-1], contexts[:, d]], [size, context_alphabet])
        nodes.append(code)
    lw_child = prev_child = hyp = None
    for d in range(depth, -1, -1):
        ids = nodes[d]
        order, start = _groups(ids)
        n_before = np.empty(n)
        n_before[order] = np.arange(n) - start
        order_a, start_a = _groups(ids * k + target)
        na_before = np.empty(n)
        na_before[order_a] = np.arange(n) - start_a
        ln_den = np.log(n_before + half_k)
        inc = np.log(na_before + 0.5) - ln_den                                # (n,) time-indexed
        le = np.empty(n)
        le[order] = _group_cumsum(inc[order], start)
        if full:
            # counts of every candidate symbol at this node before t: (n, K)
            onehot = (target[order][:, None] == np.arange(k)).astype(np.float64)
            cnt = np.empty((n, k))
            cnt[order] = _group_cumsum(onehot, start) - onehot           # exclusive cumsum
            le_hyp = (le - inc)[:, None] + np.log(cnt + 0.5) - ln_den[:, None]   # (n, K)
        if lw_child is None:
            lw = le
            if full:
                hyp = le_hyp
        else:
            step = lw_child - prev_child
            delta = step[order]
            s = np.empty(n)
            s[order] = _group_cumsum(delta, start)
            lw = np.logaddexp(_LN_HALF + le, _LN_HALF + s)
            if full:
                s_before = (s - step)[:, None]
                hyp = np.logaddexp(_LN_HALF + le_hyp,
                                   _LN_HALF + s_before + hyp - prev_child[:, None])
        # ln P_w of the same node after its previous visit (0 before the first), for the parent
        lw_sorted = lw[order]
        prev_sorted = np.empty(n)
        prev_sorted[0] = 0.0
        prev_sorted[1:] = lw_sorted[:-1]
        prev_sorted[start == np.arange(n)] = 0.0
        prev = np.empty(n)
        prev[order] = prev_sorted
        lw_child, prev_child = lw, prev
    if full:
        return hyp - prev_child[:, None]
    return lw_child - prev_child                                 # the root is visited every t


def interleaved_context(target: np.ndarray, side: Sequence[np.ndarray], depth: int,
                        pad: int) -> np.ndarray:
    """Context paths (n, depth * (1 + len(side))) for predicting target_t from the past and side info.

    For each lag i = 0 .. depth-1 the path holds ``side_1[t-i], ..., side_m[t-i], target[t-i-1]``,
    so the side streams enter up to and including time t (the x^t of causal conditioning) and the
    target only strictly before t. Times before 0 read as `pad`.
    """
    n = len(target)
    cols = []
    for i in range(depth):
        for s, lag in [(s, i) for s in side] + [(target, i + 1)]:
            col = np.full(n, pad, dtype=np.int64)
            if lag < n:
                col[lag:] = s[: n - lag]
            cols.append(col)
    if not cols:
        return np.zeros((n, 0), dtype=np.int64)
    return np.stack(cols, axis=1)


@dataclass(frozen=True)
class CTWPredictor:
    """CTW as a sequential predictor (the default ``predictor`` of the DI estimator).

    Parameters
    ----------
    depth : int
        Time steps of history: the tree is ``depth * (1 + number of side streams)`` symbols deep.
    alphabet_size : int, optional
        K of the target (default ``max(target) + 1``).
    """

    depth: int = 5
    alphabet_size: int | None = None

    def __post_init__(self) -> None:
        as_int(self.depth, "depth", "CTWPredictor", minimum=0)
        if self.alphabet_size is not None:
            as_int(self.alphabet_size, "alphabet_size", "CTWPredictor", minimum=1, maximum=MAX_CELLS)

    def log_probs_sequence(self, target: np.ndarray, side: Sequence[np.ndarray] = ()) -> np.ndarray:
        """ln Q(target_t | target^{t-1}, side_j^t for every j), one per t, natural log, shape (n,)."""
        return ctw_log_probs(*self._tree_input(target, side, "CTWPredictor.log_probs_sequence"))

    def _tree_input(self, target: np.ndarray, side: Sequence[np.ndarray], func: str, full: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, int, int]:
        target = as_symbols(target, "target", func, alphabet_size=self.alphabet_size)
        if isinstance(side, np.ndarray) and side.ndim == 1:
            side = [side]                                  # one stream given bare
        side = [as_symbols(s, "side", func) for s in side]
        for s in side:
            same_length(target, s, ("target", "side"), func)
        k = self.alphabet_size or int(target.max()) + 1
        m = max([k] + [int(s.max()) + 1 for s in side])
        n = target.size
        # context paths (n, depth * (1 + len(side))) plus a few (n,) arrays per level (n, K with `full`)
        check_size(n * (self.depth * (1 + len(side)) + 1) + (n * k if full else 0), "depth", func,
                   hint="Use a smaller depth or alphabet, or a shorter sequence.")
        return target, interleaved_context(target, side, self.depth, pad=m), k, m + 1

    def log_dists_sequence(self, target: np.ndarray, side: Sequence[np.ndarray] = ()
                           ) -> np.ndarray:
        """ln Q(a | target^{t-1}, side_j^t) for every t and symbol a, shape (n, K), natural log."""
        func = "CTWPredictor.log_dists_sequence"
        return ctw_log_probs(*self._tree_input(target, side, func, full=True), full=True)

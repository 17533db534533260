"""Forward recursions on hidden-state processes: exact enumeration and single-path filtering.

Every source with hidden state in this package (hidden Markov sources, the feedback channel) is
written as a sequence of *steps*. A step is an array M of shape (K, S_a, S_b) with
M[a, s, s'] = P(symbol a, next state s' | state s); the symbols are observed, the states are not.

* :func:`enumerate_histories` walks all symbol histories level by level, keeping for each its
  probability and the filtered belief over the hidden state. It returns, for every step t, the exact
  conditional entropy H(A_t | A^{t-1}) (or, started from a batch of point masses, H(A_t | A^{t-1}, S_0))
  and, at the end, the joint pmf of the histories. Cost is exponential in the number of steps:
  the enumeration is capped at :data:`MAX_ENTRIES` floats per step and raises InputError beyond.
  Histories of probability 0 are dropped, so sparse laws go further.
* :func:`filter_path` runs the same recursion along one observed sequence (the predictive
  distributions of a source used as a token model), linear in its length.

References
----------
1. L. R. Rabiner, "A tutorial on hidden Markov models", Proc. IEEE 77(2), 1989 (forward algorithm).
2. Cover & Thomas (2006), sec. 4.5 (functions of Markov chains).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._validate import MAX_CELLS, check_size
from ..errors import InputError

#: Largest number of floats (histories x symbols x states) held at one step of the enumeration:
#: 2**23, a 32nd of :data:`seminfo._validate.MAX_CELLS` (each step holds several such arrays).
MAX_ENTRIES = MAX_CELLS // 32

#: Most steps of one enumeration or filter. Sparse laws (histories of probability 0 are dropped)
#: can enumerate long horizons cheaply, but each step costs a few numpy calls.
MAX_STEPS = 2 ** 16


def check_steps(n: int, what: str, func: str = "") -> None:
    """Refuse an enumeration of more than :data:`MAX_STEPS` steps before building its step list."""
    check_size(n, what, func, limit=MAX_STEPS, unit="steps of the forward recursion")


def _row_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of a (N, K) array of pmfs (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def enumerate_histories(start: np.ndarray, steps: Sequence[np.ndarray], *, what: str,
                        keep_pmf: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Exact per-step conditional entropies of the observed symbols, by enumeration.

    Parameters
    ----------
    start : ndarray, shape (S_0,)
        Law of the initial hidden state.
    steps : sequence of ndarray, each (K_t, S_{t-1}, S_t)
    what : str
        Start of the error message if the enumeration is too large (names the parameter).
    keep_pmf : bool
        Also return the joint pmf of the symbols (flattened, first symbol most significant).

    Returns
    -------
    h : ndarray, shape (len(steps),)
        h[t] = H(A_{t+1} | A^t) in nats.
    pmf : ndarray of shape (prod K_t,) or None
    """
    codes = np.zeros(1, dtype=np.int64)
    prob = np.ones(1)
    belief = start[None, :].astype(np.float64)                       # (N, S)
    h = np.empty(len(steps))
    for t, M in enumerate(steps):
        K, _, Sb = M.shape
        if prob.size * K * Sb > MAX_ENTRIES:
            raise InputError(f"{what} is too large for exact enumeration: step {t + 1} would hold "
                             f"{prob.size} histories x {K} symbols x {Sb} states, more than "
                             f"{MAX_ENTRIES} numbers. Use a smaller value.")
        Sa = M.shape[1]
        alpha = (belief @ M.transpose(1, 0, 2).reshape(Sa, K * Sb)).reshape(-1, K, Sb)  # (N, K, Sb)
        pred = alpha.sum(axis=2)                                     # (N, K) next-symbol law
        h[t] = float(prob @ _row_entropy(pred))
        new_prob = (prob[:, None] * pred).ravel()
        keep = new_prob > 0
        codes = (codes[:, None] * K + np.arange(K)).ravel()[keep]
        belief = (alpha / np.where(pred > 0, pred, 1.0)[..., None]).reshape(-1, Sb)[keep]
        prob = new_prob[keep]
    if not keep_pmf:
        return h, None
    size = int(np.prod([M.shape[0] for M in steps]))
    pmf = np.zeros(size)
    pmf[codes] = prob
    return h, pmf


def enumerate_given_start(start: np.ndarray, steps: Sequence[np.ndarray], *, what: str,
                          labels: np.ndarray | None = None) -> np.ndarray:
    """Per-step H(A_t | A^{t-1}, L) in nats, L = labels[S_0] (default L = S_0): the enumeration from
    the start law restricted to each label, averaged with the label's probability."""
    labels = np.arange(start.size) if labels is None else np.asarray(labels)
    h = np.zeros(len(steps))
    for lab in np.unique(labels[start > 0]):
        part = np.where(labels == lab, start, 0.0)
        w = part.sum()
        h += w * enumerate_histories(part / w, steps, what=what)[0]
    return h


def filter_path(start: np.ndarray, steps: Sequence[np.ndarray], symbols: np.ndarray, *,
                func: str, first: Sequence[np.ndarray] = ()) -> list[np.ndarray]:
    """Predictive laws along one observed sequence.

    Symbol j uses ``first[j]`` for j < len(first), then the periodic ``steps`` (symbol j uses
    ``steps[(j - len(first)) % len(steps)]``). Returns the len(symbols) + 1 predictive pmfs
    (probabilities, not logs): entry j is the law of symbol j given symbols 0..j-1. Raises
    InputError at a symbol of probability 0.
    """
    belief = start.astype(np.float64)
    n_first, period = len(first), len(steps)
    sums_first = [M.sum(axis=2) for M in first]                      # (K, S_a): next state summed out
    sums = [M.sum(axis=2) for M in steps]

    def step(j: int) -> tuple[np.ndarray, np.ndarray]:
        if j < n_first:
            return first[j], sums_first[j]
        i = (j - n_first) % period
        return steps[i], sums[i]

    out = []
    for j, a in enumerate(symbols):
        M, R = step(j)
        pred = R @ belief
        out.append(pred)
        if pred[a] <= 0:
            raise InputError(f"The sequence given to {func} has probability 0 under this source at "
                             f"position {j} (symbol {int(a)}); the law after it is undefined.")
        belief = (belief @ M[a]) / pred[a]
    out.append(step(len(symbols))[1] @ belief)
    return out

"""Stationary distribution of a finite Markov chain, with a check that it is unique.

Shared by :mod:`seminfo.exact.transfer` and the finite-state sources. A chain has a unique stationary
distribution exactly when it has one closed communicating class (transient states are allowed and
get probability 0). We find the classes on the support graph (strongly connected components), then
solve pi (P - I) = 0 with one equation replaced by sum(pi) = 1, which is non-singular in that case.

References
----------
1. J. R. Norris, *Markov Chains*, Cambridge University Press, 1997, sec. 1.2 and 1.7.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.sparse import linalg as splinalg

from .._validate import MAX_CELLS, check_size
from ..errors import DistributionError


#: Most states of a chain whose stationary law is solved exactly. The sparse LU of a chain over
#: contexts (a de Bruijn graph) fills in fast: 2**13 states take about 0.2 s, 2**14 several seconds.
MAX_STATES = 2 ** 13


def check_states(N: int, param: str, func: str) -> None:
    """Refuse a chain with more than :data:`MAX_STATES` states before building it."""
    check_size(N, param, func, limit=MAX_STATES, unit="states",
               hint="Use fewer states (a smaller alphabet, order or state space): the exact "
                    "stationary law is one linear system over all of them.")


def stationary_distribution(P: np.ndarray, param: str = "P", func: str = "") -> np.ndarray:
    """Unique stationary pmf pi of a row-stochastic matrix `P` (N, N): pi P = pi, sum pi = 1.

    Raises DistributionError when the chain has more than one closed communicating class (it is
    reducible and its stationary law is not unique), InputError above :data:`MAX_STATES` states.
    """
    N = P.shape[0]
    check_states(N, param, func)
    S = sparse.csr_matrix(P)
    S.eliminate_zeros()                   # stored zeros are not edges of the support graph
    n_comp, label = csgraph.connected_components(S, directed=True, connection="strong")
    if n_comp > 1:
        rows, cols = S.nonzero()
        leaving = label[rows] != label[cols]
        open_classes = set(label[rows[leaving]].tolist())
        closed = [c for c in range(n_comp) if c not in open_classes]
        if len(closed) > 1:
            where = f"The `{param}` parameter of {func}" if func else f"The `{param}` parameter"
            first = [int(np.flatnonzero(label == c)[0]) for c in closed[:2]]
            raise DistributionError(
                f"{where} must define an irreducible chain (one closed communicating class) so that "
                f"its stationary distribution is unique. Got {len(closed)} closed classes (states "
                f"{first[0]} and {first[1]} cannot reach each other); make every state reachable.")
    A = (S.T - sparse.identity(N, format="csr")).tolil()
    A[0, :] = np.ones(N)
    b = np.zeros(N)
    b[0] = 1.0
    if N <= 512:
        pi = np.linalg.solve(A.toarray(), b)
    else:
        pi = splinalg.spsolve(A.tocsc(), b)
    pi = np.where(pi < 0, 0.0, pi)         # rounding only: the exact solution is non-negative
    return pi / pi.sum()


#: Largest number of entries of a block pmf built by enumeration: 2**24 (128 MiB of float64), a
#: sixteenth of :data:`seminfo._validate.MAX_CELLS` because building it takes several such arrays.
MAX_BLOCK_ENTRIES = MAX_CELLS // 16


def chain_block_pmf(init: np.ndarray, P: np.ndarray, m: int) -> np.ndarray:
    """Joint pmf of m consecutive states (Z_1..Z_m) of a chain: init(z_1) prod_t P(z_t, z_{t+1}).

    Returns an array with m axes of length N (caller checks N**m <= MAX_BLOCK_ENTRIES).
    """
    block = init.copy()
    for _ in range(m - 1):
        block = block[..., None] * P[(None,) * (block.ndim - 1)]     # (N,)*t -> (N,)*(t+1)
    return block

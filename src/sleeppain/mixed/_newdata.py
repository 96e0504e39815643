"""Prediction on new data shared by the mixed-model results (lmm, glmm, clmm).

Maps the rows of a ``newdata`` frame to the levels of a random-effects term and adds
the conditional modes ``Z b`` to a linear predictor, as lme4's ``predict.merMod`` with
``allow.new.levels = TRUE``: a level not seen in the fit gets a random effect of 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from sleeppain.errors import SpecificationError

NewMatrix = Callable[[str, Any, pd.DataFrame, tuple[str, ...]], np.ndarray]


def level_index(term: Any, newdata: pd.DataFrame) -> np.ndarray:
    """Position of each row's level among ``term.levels`` (-1 for a level not seen).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import pandas as pd
    >>> t = SimpleNamespace(spec=SimpleNamespace(factors=("id",)), levels=("a", "b"), label="1 | id")
    >>> level_index(t, pd.DataFrame({"id": ["b", "c", "a"]})).tolist()
    [1, -1, 0]
    """
    for f in term.spec.factors:
        if f not in newdata.columns:
            raise SpecificationError(
                f"newdata lacks the grouping column {f!r} of term {term.label}."
            )
    if len(term.spec.factors) == 1:
        labels = newdata[term.spec.factors[0]].to_numpy(dtype=object)
    else:
        cols = [newdata[f].astype(str).to_numpy(dtype=object) for f in term.spec.factors]
        labels = np.array([":".join(v) for v in zip(*cols, strict=True)], dtype=object)
    return pd.Index(term.levels).get_indexer(labels)


def add_random_part(
    eta: np.ndarray,
    terms: Iterable[Any],
    b: Iterable[np.ndarray],
    newdata: pd.DataFrame,
    new_matrix: NewMatrix,
) -> np.ndarray:
    """``eta`` plus each term's ``z' b`` for the rows of ``newdata``, term by term.

    ``new_matrix(expr, info, newdata, names)`` builds a term's model matrix; rows whose
    level was not seen in the fit get 0 from that term.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np, pandas as pd
    >>> t = SimpleNamespace(spec=SimpleNamespace(factors=("id",), expr="1"),
    ...                     levels=("a", "b"), label="1 | id", info=None, names=("Intercept",))
    >>> ones = lambda expr, info, nd, names: np.ones((len(nd), 1))
    >>> nd = pd.DataFrame({"id": ["b", "z"]})
    >>> add_random_part(np.zeros(2), [t], [np.array([[1.0], [2.0]])], nd, ones).tolist()
    [2.0, 0.0]
    """
    for t, bt in zip(terms, b, strict=True):
        Xi = new_matrix(t.spec.expr, t.info, newdata, t.names)
        idx = level_index(t, newdata)
        contrib = np.einsum("ij,ij->i", Xi, bt[np.maximum(idx, 0)])
        contrib[idx < 0] = 0.0
        eta = eta + contrib
    return eta

"""The person-axis small-matrix algebra of sp.dsem against numpy.linalg (LAPACK)."""

from __future__ import annotations

import numpy as np
import pytest

from sleeppain.dynamics import _linalg as la

#: agreement with numpy.linalg on well-conditioned matrices (rounding only)
TOL = 1e-12


def _spd(n: int, k: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, k, k))
    return x @ x.transpose(0, 2, 1) + k * np.eye(k)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_cholesky_and_solves_match_numpy(k: int) -> None:
    a = _spd(200, k, k)
    rng = np.random.default_rng(1)
    b = rng.standard_normal((200, k))
    bm = rng.standard_normal((200, k, 3))
    low = la.cholesky(la.to_person_last(a))
    ref = np.linalg.cholesky(a)
    assert np.abs(np.moveaxis(low, -1, 0) - ref).max() < TOL
    x = la.solve_upper_t(low, la.solve_lower(low, la.to_person_last(b)))
    assert np.abs(x.T - np.linalg.solve(a, b[..., None])[..., 0]).max() < TOL
    xm = la.solve_upper_t(low, la.solve_lower(low, np.moveaxis(bm, 0, -1).copy()))
    assert np.abs(np.moveaxis(xm, -1, 0) - np.linalg.solve(a, bm)).max() < TOL
    assert np.abs(la.log_det_from_cholesky(low) - np.linalg.slogdet(a)[1]).max() < TOL


def test_not_positive_definite_raises() -> None:
    a = _spd(5, 3, 0)
    a[2] = -np.eye(3)
    with pytest.raises(np.linalg.LinAlgError):
        la.cholesky(la.to_person_last(a))

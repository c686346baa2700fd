"""The linear teacher and its training sets (THEORY C5-C8, article 001 §2).

Teacher ``y = w*^T x + eps``, ``x ~ N(0, I_N)``, ``||w*|| = 1``, ``eps ~ N(0, delta2)``,
``P = alpha N`` training samples. Generalization error of a linear predictor ``v^T x``:
``||v - w*||^2`` (noise-free test target, exact expectation over ``x``).

A data set carries its decomposition (:attr:`TeacherData.spectral`, computed once), from
which the ridge curves (:mod:`.ridge`) and the rotated view the preconditioned solver trains
on (:func:`spectral_view`) are read. Array code uses only the array-API namespace of its
inputs (NumPy, CuPy, array-api-strict) and makes every array on their device; the data are
drawn there (:func:`regnorm.backend.random_generator`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from regnorm.backend import (
    Backend,
    array_namespace,
    backend_name,
    device_of,
    random_generator,
    resolve_backend,
)
from regnorm.validation import check_integer, check_real

__all__ = ["SpectralView", "TeacherData", "spectral_view", "teacher"]


@dataclass(frozen=True)
class TeacherData:
    """A training set of the linear teacher.

    Attributes
    ----------
    X : array, shape (..., P, N)
        Inputs, i.i.d. N(0, 1).
    y : array, shape (..., P)
        Targets ``X w* + eps``.
    w_star : array, shape (..., N)
        Teacher weights, ``||w*|| = 1`` exactly (so the closed forms' ``E||w*||^2 = 1``
        holds per data set, removing one source of variance).
    """

    X: Any
    y: Any
    w_star: Any

    @property
    def alpha(self) -> float:
        return self.X.shape[-2] / self.X.shape[-1]

    @functools.cached_property
    def spectral(self) -> tuple:
        """``(xp, s, Vt, a, b)``: singular values ``s`` and right vectors ``Vt`` of ``X``,
        ``a = U^T y`` and ``b = V^T w*``, computed once per data set (see
        :func:`svd_parts`)."""
        return svd_parts(self)

    @functools.cached_property
    def column_stats(self) -> tuple:
        """``(diag(X^T X)/P, mean of the rows)``, each ``(..., N)``: what every call of
        :func:`~simulations.teacher_student.sgd.train_students` on this data set needs,
        computed once (two passes over ``X``, which for a short call at ``N = 4096`` cost as
        much as a hundred SGD steps)."""
        xp = array_namespace(self.X)
        return _column_mean_squares(xp, self.X), xp.mean(self.X, axis=-2)


def teacher(
    N: int,
    P: int,
    delta2: float,
    *,
    repetitions: int | None = None,
    rng: Any = None,
    backend: Any = None,
    dtype: Any = None,
) -> TeacherData:
    """Draw a teacher and ``P`` training samples (``repetitions`` independent data sets if given).

    Parameters
    ----------
    N, P : int
        Input dimension and number of samples (``>= 1``); ``alpha = P/N``.
    delta2 : float
        Label-noise variance ``>= 0``.
    repetitions : int, optional
        If given, stack ``repetitions`` independent data sets along a leading axis.
    rng : seed, numpy.random.Generator or regnorm.backend.ArrayGenerator, optional
        The randomness, turned into a generator of ``backend``
        (:func:`regnorm.backend.random_generator`): the draws are made on its device, in the
        order teacher, inputs, noise. On NumPy (and array-api-strict, which draws NumPy's
        numbers) the numbers are those of ``numpy.random.default_rng(rng)``.
    backend : spec or Backend, optional
        Where the data live: anything :func:`regnorm.backend.resolve_backend` accepts (a
        name such as ``"cupy"`` or ``"array_api_strict:device1"``, a namespace, a Backend);
        default NumPy.
    dtype : optional
        Floating dtype of the backend (default float64). The draws and the labels are
        computed in float64 and rounded once to ``dtype``.
    """
    N = check_integer("N", N, minimum=1)
    P = check_integer("P", P, minimum=1)
    delta2 = check_real("delta2", delta2, minimum=0.0)
    lead = () if repetitions is None else (check_integer("repetitions", repetitions, minimum=1),)
    backend = resolve_backend(backend)
    gen = random_generator(backend, rng)
    xp = backend.xp
    dtype = xp.float64 if dtype is None else dtype
    w = gen.standard_normal((*lead, N))
    w = w / xp.sqrt(xp.sum(w * w, axis=-1, keepdims=True))
    X = gen.standard_normal((*lead, P, N))
    y = xp.matmul(X, w[..., None])[..., 0] + math.sqrt(delta2) * gen.standard_normal((*lead, P))
    return TeacherData(
        X=xp.astype(X, dtype, copy=False),
        y=xp.astype(y, dtype, copy=False),
        w_star=xp.astype(w, dtype, copy=False),
    )


def backend_of(x: Any) -> Backend:
    """The :class:`~regnorm.backend.Backend` array ``x`` lives on (its namespace and device),
    to make further arrays and random draws beside it."""
    xp = array_namespace(x)
    return Backend(backend_name(xp), xp, device_of(x))


def svd_parts(data: TeacherData) -> tuple:
    """Singular values ``s``, right vectors ``Vt``, ``a = U^T y`` and ``b = V^T w*``.

    From ``eigh`` of the smaller Gram matrix (``X^T X`` or ``X X^T``), not ``svd``: several
    times faster, and multithreaded ``svd`` degrades badly on a busy machine. The squared
    singular values carry relative error ~ eps cond(X)^2 for the smallest modes (1e-8 at
    N = 4096, alpha = 1), far below the Monte-Carlo error.

    Returns
    -------
    tuple
        ``(xp, s, Vt, a, b)`` with ``s``, ``a`` of shape ``(..., r)``, ``Vt`` ``(..., r, N)``
        and ``b`` ``(..., r)``, ``r = min(P, N)``.
    """
    xp = array_namespace(data.X)
    X, y = data.X, data.y
    P, N = X.shape[-2], X.shape[-1]
    Xt = xp.matrix_transpose(X)
    if P >= N:
        lam, V = xp.linalg.eigh(xp.matmul(Xt, X))  # (..., N), (..., N, N)
        lam = xp.clip(lam, min=0.0)
        s = xp.sqrt(lam)
        Vt = xp.matrix_transpose(V)
        proj = xp.squeeze(xp.matmul(Vt, xp.matmul(Xt, y[..., None])), axis=-1)  # S U^T y
        a = proj / xp.where(s > 0, s, xp.ones_like(s))
    else:
        lam, U = xp.linalg.eigh(xp.matmul(X, Xt))  # (..., P), (..., P, P)
        lam = xp.clip(lam, min=0.0)
        s = xp.sqrt(lam)
        inv = xp.where(s > 0, 1.0 / xp.where(s > 0, s, xp.ones_like(s)), xp.zeros_like(s))
        Vt = xp.matmul(xp.matrix_transpose(U), X) * inv[..., None]  # rows = right vectors
        a = xp.squeeze(xp.matmul(xp.matrix_transpose(U), y[..., None]), axis=-1)
    b = xp.squeeze(xp.matmul(Vt, data.w_star[..., None]), axis=-1)
    return xp, s, Vt, a, b


def _column_mean_squares(xp: Any, X: Any) -> Any:
    """``diag(X^T X)/P`` without a ``P x N`` temporary (NumPy's ``vecdot`` over the first
    axis is 10x slower than ``einsum`` here)."""
    from array_api_compat import is_numpy_namespace

    if is_numpy_namespace(xp):
        return np.einsum("...ij,...ij->...j", X, X) / X.shape[-2]
    return xp.linalg.vecdot(X, X, axis=-2) / X.shape[-2]


@dataclass(frozen=True)
class SpectralView:
    """A data set in the eigenbasis of ``X^T X`` restricted to the row span of ``X``.

    ``data.X = X V`` (shape ``(..., P, r)``, ``r = min(P, N)``: orthogonal columns of norms
    ``s_k``), ``data.y = y``, ``data.w_star = V^T w*`` (the part of the teacher a student
    trained on ``X`` can see); ``lam = s^2/P`` (the Hessian of the per-sample loss is
    ``2 diag(lam)`` in these coordinates). A student's output on the training inputs, its
    batch statistics and its norm are the same in both coordinates, so training here is
    exact, and for ``P < N`` it is ``N/P`` times cheaper.
    """

    data: TeacherData
    Vt: Any
    lam: Any

    def to_full(self, v: Any) -> Any:
        """Vectors ``(..., r, K)`` in these coordinates back to input space ``(..., N, K)``."""
        xp = array_namespace(v)
        return xp.matmul(xp.matrix_transpose(self.Vt), v)

    def to_view(self, v: Any) -> Any:
        """Input-space vectors ``(..., N, K)`` to these coordinates (their span part)."""
        return array_namespace(v).matmul(self.Vt, v)


def spectral_view(data: TeacherData) -> SpectralView:
    """The :class:`SpectralView` of a data set, from its cached decomposition (one product)."""
    xp, s, Vt, _, b = data.spectral
    Xr = xp.matmul(data.X, xp.matrix_transpose(Vt))
    return SpectralView(TeacherData(Xr, data.y, b), Vt, s**2 / data.X.shape[-2])

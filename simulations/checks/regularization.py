"""Claims checks C9-C12 (article 001 §2.4): orderings on paired differences over replicates.

Each check runs its experiment of :mod:`simulations.regularization` at the default size (the
run is shared with the figure that draws it) and turns each :class:`Comparison` into an
ordering record: ``holds`` or ``deviates`` only when the 95% Student-t interval excludes
zero (or the margin of "at least as well as"), ``not resolved`` otherwise.

Backends: all four (:data:`BACKEND_CHECKS`) train on the backend of the context
(``ctx.backend``, or ``ctx.options["backend"]``; None: NumPy; see
:func:`~simulations.checks.batch_noise.check_backend`): teacher, data, initial weights,
minibatches and dropout masks are made on its device and only the per-replicate losses and
gamma/zeta means cross to the host. Records of a table made off NumPy carry its
``backend`` parameter (read from the table's ``attrs["settings"]``); NumPy's records are as
they were.
"""

from __future__ import annotations

from collections.abc import Iterable

from regnorm.backend import backend_param
from regnorm.claims import ClaimRecord, claim, ordering_record
from regnorm.sweeps import shared_run
from simulations.checks.batch_noise import check_backend
from simulations.regularization import (
    Comparison,
    batch_size_gamma,
    bn_vs_pn,
    c9_comparisons,
    c10_comparisons,
    c11_comparisons,
    c12_comparisons,
    dropout_experiment,
    mean_variance_noise,
)

__all__ = [
    "BACKEND_CHECKS",
    "CHECKS",
    "c9_records",
    "c10_records",
    "c11_records",
    "c12_records",
    "check_c9",
    "check_c10",
    "check_c11",
    "check_c12",
    "ordering_records",
    "table_backend",
]

SOURCE = "001 §2.4"


def ordering_records(
    cid: str, comparisons: Iterable[Comparison], *, source: str = SOURCE, backend=None
) -> list[ClaimRecord]:
    """One :func:`regnorm.claims.ordering_record` of claim ``cid`` per comparison
    (``backend``: a spec put in each record's params; None, NumPy's records, puts none)."""
    on = {} if backend is None else {"backend": backend}
    return [
        ordering_record(
            cid,
            {**c.params, **on},
            diff=c.estimate.value,
            stderr=c.estimate.stderr,
            dof=c.estimate.dof,
            claimed=c.claimed,
            margin=c.margin,
            what=c.what,
            note=c.note,
            source=source,
        )
        for c in comparisons
    ]


def c9_records(df) -> list[ClaimRecord]:
    """C9's records of a :func:`simulations.regularization.bn_vs_pn` table."""
    return ordering_records("C9", c9_comparisons(df), backend=table_backend(df))


def c10_records(df) -> list[ClaimRecord]:
    """C10's records of a :func:`simulations.regularization.mean_variance_noise` table."""
    return ordering_records("C10", c10_comparisons(df), backend=table_backend(df))


def c11_records(df) -> list[ClaimRecord]:
    """C11's records of a :func:`simulations.regularization.batch_size_gamma` table."""
    return ordering_records("C11", c11_comparisons(df), backend=table_backend(df))


def c12_records(df) -> list[ClaimRecord]:
    """C12's records of a :func:`simulations.regularization.dropout_experiment` table."""
    return ordering_records("C12", c12_comparisons(df), backend=table_backend(df))


def table_backend(df):
    """The spec of the backend a table was made on (None for NumPy)."""
    return df.attrs.get("settings", {}).get("backend")


def _default(experiment, ctx):
    backend = check_backend(ctx)
    # NumPy's call has no backend keyword, so it shares the run a figure makes
    on = backend_param(backend)
    return shared_run(experiment, quick=ctx.quick, seed=ctx.seed, executor=ctx.executor, **on)


@claim("C9", source=SOURCE)
def check_c9(ctx):
    """C9 on the teacher-student ReLU network (replicates and sizes in each record's params)."""
    yield from c9_records(_default(bn_vs_pn, ctx))


@claim("C10", source=SOURCE)
def check_c10(ctx):
    """C10: are WN + mean-only BN and WN + variance-only BN between BN and WN in gap?"""
    yield from c10_records(_default(mean_variance_noise, ctx))


@claim("C11", source=SOURCE)
def check_c11(ctx):
    """C11: slope of the opened BN layer's gamma^2 and of the test loss against log2 M."""
    yield from c11_records(_default(batch_size_gamma, ctx))


@claim("C12", source=SOURCE)
def check_c12(ctx):
    """C12: dropout after/before BN at large batch, WN + dropout, by paired test losses."""
    yield from c12_records(_default(dropout_experiment, ctx))


CHECKS = [check_c9, check_c10, check_c11, check_c12]

#: The checks of :data:`CHECKS` that run on any backend (all of them).
BACKEND_CHECKS = list(CHECKS)

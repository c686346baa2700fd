"""Claims checks C15 and C16 (article 000 §3.1-3.2): Switchable Norm's learned weights.

Both read the same training runs of :func:`simulations.switchable_weights.switchable_weights`
at the default size (shared with the figure that draws them). C15 also states the ``M = 1``
identity (BN's statistics are IN's), labelled as an identity: true by construction, not
evidence.

Backends: both (:data:`BACKEND_CHECKS`) train on the backend of the context
(``ctx.backend``, or ``ctx.options["backend"]``; see
:func:`~simulations.checks.batch_noise.check_backend`): images, teacher, student and
minibatch order are made on its device and only the learned weights, ``rho_1`` and the
test loss cross to the host. Their ordering records then carry a ``backend`` parameter;
C15's ``M = 1`` identity is a property of SwitchableNorm's statistics and is computed on
NumPy on every backend.
"""

from __future__ import annotations

from regnorm.backend import backend_param
from regnorm.claims import ClaimRecord, claim, identity_record
from regnorm.sweeps import shared_run
from simulations.checks.batch_noise import check_backend
from simulations.switchable_weights import (
    bn_in_statistics_gap,
    c15_comparisons,
    c16_comparisons,
    switchable_weights,
)

from .regularization import ordering_records, table_backend

__all__ = [
    "BACKEND_CHECKS",
    "CHECKS",
    "c15_identity_record",
    "c15_records",
    "c16_records",
    "check_c15",
    "check_c16",
]

SOURCE = "000 §3.1-3.2"


def c15_records(df) -> list[ClaimRecord]:
    """C15's ordering records of a :func:`switchable_weights` table."""
    return ordering_records("C15", c15_comparisons(df), source=SOURCE, backend=table_backend(df))


def c16_records(df) -> list[ClaimRecord]:
    """C16's ordering records of a :func:`switchable_weights` table."""
    return ordering_records("C16", c16_comparisons(df), source=SOURCE, backend=table_backend(df))


def c15_identity_record(seed=0) -> ClaimRecord:
    """At M=1, SN's BN statistics equal IN's: true by construction, not evidence for C15."""
    return identity_record(
        "C15",
        {"M": 1, "seed": seed},
        analytic=0.0,
        numeric=bn_in_statistics_gap(seed),
        atol=1e-12,
        note="max |BN statistic - IN statistic| at batch size 1 (mean and variance)",
        source=SOURCE,
    )


def _default(ctx):
    backend = check_backend(ctx)
    # NumPy's call has no backend keyword, so it shares the run a figure makes
    on = backend_param(backend)
    return shared_run(
        switchable_weights, quick=ctx.quick, seed=ctx.seed, executor=ctx.executor, **on
    )


@claim("C15", source=SOURCE)
def check_c15(ctx):
    """C15: slope of SN's BN weights against log2 M on a 1x1-conv student; M=1 identity."""
    yield c15_identity_record(ctx.seed)
    yield from c15_records(_default(ctx))


@claim("C16", source=SOURCE)
def check_c16(ctx):
    """C16: BN variance weight vs BN mean weight of SN at small batch, with input kurtosis."""
    yield from c16_records(_default(ctx))


CHECKS = [check_c15, check_c16]

#: The checks of :data:`CHECKS` that run on any backend (both).
BACKEND_CHECKS = list(CHECKS)

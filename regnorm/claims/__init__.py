"""The claims of THEORY.md that regnorm checks, their records and their verdicts.

A *claim* is a numbered statement of ``THEORY.md`` (``C1`` ... ``C22``, :data:`CATALOGUE`). A
*check* (:class:`Claim`, made with the :func:`claim` decorator) measures a claim and returns
:class:`ClaimRecord` s: the analytic value, the numerical (Monte-Carlo or exact-numeric)
estimate with its standard error, the z-score, and a verdict (:data:`VERDICTS`: ``holds``,
``deviates``, ``not resolved``, ``open``; the rules are :mod:`regnorm.claims.verdicts`'s).

Every record has a *kind* (:data:`KINDS`): ``exact`` (a closed form claimed exactly),
``asymptotic`` (a law claimed as ``M`` or ``N`` grows: judged against the exact value where
one exists, see :func:`asymptotic_record`), ``identity`` (true by construction: a check of
the code, not evidence for the claim), ``ordering`` (one method better than another) and
``open``.

The checks live with the code that measures them, on a floor of their own
(``simulations.checks``, ``derivations.checks``), each package with an explicit list
``CHECKS``; the lists are declared as entry points of the group :data:`CHECKS_GROUP` and read
by :func:`load_checks`, so ``import regnorm; regnorm.run_claims("C13")`` finds its check in a
fresh interpreter, and ``run_claims(ids, checks=[...])`` runs checks of one's own.

Modules
-------
catalogue   the claim ids, their statements, the verdicts and kinds
records     :class:`ClaimRecord`, its table and its JSON file
verdicts    the record builders: one rule per kind of verdict
checks      :class:`Claim`, :func:`claim`, :func:`load_checks` and :func:`run_claims`

Example
-------
>>> from regnorm.claims import claim, run_claims, statistical_record
>>> @claim("C1", source="test")
... def check_c1(ctx):
...     yield statistical_record("C1", {"M": 32}, analytic=0.0469, numeric=0.0470,
...                              stderr=1e-4)
>>> records = run_claims("C1", checks=[check_c1])
>>> records[0].verdict
'holds'
"""

from .catalogue import CATALOGUE, KINDS, VERDICTS, claim_order
from .checks import (
    CHECKS_GROUP,
    CheckContext,
    Claim,
    claim,
    load_checks,
    registered,
    resolve_ids,
    run_claims,
)
from .records import (
    FRAME_PARAMS,
    ClaimRecord,
    records_from_json,
    records_to_frame,
    records_to_json,
)
from .verdicts import (
    ASYMPTOTIC_RTOL,
    DEFAULT_Z_BOUND,
    FALSE_ALARM,
    asymptotic_record,
    deterministic_record,
    identity_record,
    judge_candidates,
    open_record,
    ordering_record,
    statistical_record,
    t_bound,
)

__all__ = [
    "ASYMPTOTIC_RTOL",
    "CATALOGUE",
    "CHECKS_GROUP",
    "DEFAULT_Z_BOUND",
    "FALSE_ALARM",
    "FRAME_PARAMS",
    "KINDS",
    "VERDICTS",
    "CheckContext",
    "Claim",
    "ClaimRecord",
    "asymptotic_record",
    "claim",
    "claim_order",
    "deterministic_record",
    "identity_record",
    "judge_candidates",
    "load_checks",
    "open_record",
    "ordering_record",
    "records_from_json",
    "records_to_frame",
    "records_to_json",
    "registered",
    "resolve_ids",
    "run_claims",
    "statistical_record",
    "t_bound",
]

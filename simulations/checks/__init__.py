"""The claims checks of the simulations: one module per family, and the list of them all.

Each module holds one family's checks (it turns the family's measurements into
:class:`~regnorm.claims.ClaimRecord` s) and ends with its list ``CHECKS``; :data:`CHECKS`
below concatenates the families' lists, explicitly. It is declared in ``pyproject.toml`` as
the entry point ``1-simulations = "simulations.checks:CHECKS"`` of the group
``regnorm.checks``, which :func:`regnorm.claims.load_checks` reads. Importing a module here
registers nothing; nothing else in :mod:`simulations` imports this package.
"""

from . import batch_noise, normalizer_family, regularization, switchable_weights, teacher_student

__all__ = ["CHECKS"]

CHECKS = [
    *batch_noise.CHECKS,
    *teacher_student.CHECKS,
    *regularization.CHECKS,
    *switchable_weights.CHECKS,
    *normalizer_family.CHECKS,
]

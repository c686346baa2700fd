"""Transitional: the entry point of the installed metadata still names this module.

The checks live in :mod:`simulations.checks.batch_noise`; importing them here registers them
while ``regnorm.claims.load_checks`` imports entry-point modules. Goes once the entry points
name the ``CHECKS`` lists.
"""

from simulations.checks.batch_noise import CHECKS  # noqa: F401

"""Symbolic (sympy) derivations of regnorm's closed forms.

Each module derives expressions from first principles and returns them; the tests prove that
the numeric functions of :mod:`regnorm` equal them. This package imports :mod:`regnorm` only.
"""

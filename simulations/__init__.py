"""Monte-Carlo simulations of regnorm's claims.

Each module estimates one family of quantities (with standard errors) and registers the
claims checks that compare them with the closed forms of :mod:`regnorm`. This package imports
:mod:`regnorm` only.
"""

"""One script per figure: ``python -m figures.NAME --out DIR [--quick]``.

Every module here with a ``main(argv=None)`` is a figure script; ``regnorm reproduce`` runs
them all. Shared argument parsing and file output live in :mod:`figures._common`.
"""

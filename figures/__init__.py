"""One script per figure: ``python -m figures.NAME --out DIR [--quick]``.

Every module here with a ``main(argv=None)`` is a figure script; ``regnorm reproduce`` runs
them all. Shared argument parsing and file output live in :mod:`figures._common`.

Files are named after the script alone, at every size: ``DIR/NAME.png`` and
``DIR/NAME.parquet`` (``DIR/NAME_PART.parquet`` for further tables). ``--quick``, the default
and ``--full`` write the same names (the sizes are columns and settings in the data), so runs
of two sizes that should both be kept go to two ``--out`` folders.
"""

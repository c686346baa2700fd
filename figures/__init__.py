"""The top floor: one script per figure, and the command line that runs them with the checks.

Each figure script ``figures.NAME`` (:data:`FIGURES`) exposes a typed
``run(out, *, quick=False, seed=0, executor=None) -> list[Path]`` (the files it wrote) and a
thin ``main(argv=None)`` for ``python -m figures.NAME --out DIR [--quick]``; shared argument
parsing and file output live in :mod:`figures.common`. The command line
(:mod:`figures.cli`, the console script ``regnorm`` and ``python -m figures``) calls each
``run`` directly and writes a run folder (:mod:`figures.run_folder`).

Files are named after the script alone, at every size: ``DIR/NAME.png`` and
``DIR/NAME.parquet`` (``DIR/NAME_PART.parquet`` for further tables, ``DIR/NAME_...`` for any
folder a script keeps, such as a sweep store). ``--quick``, the default and ``--full`` write
the same names (the sizes are columns and settings in the data), so runs of two sizes that
should both be kept go to two ``--out`` folders.

Importing this package imports no figure script (and no matplotlib).
"""

__all__ = ["FIGURES", "SHARED_RUNS"]

#: The figure scripts, in the order the report shows them.
FIGURES = (
    "batch_dependence",
    "bn_noise",
    "proxy_norm_depth",
    "regularization_batch_size",
    "regularization_bn_pn",
    "regularization_dropout",
    "regularization_mean_variance",
    "switchable_weights",
    "teacher_student",
)

#: The claims whose checks reuse a figure's experiment through
#: :func:`regnorm.sweeps.shared_run` (memoized in its process): ``regnorm reproduce`` runs
#: them in the same worker process right after the figure, so the experiment runs once.
SHARED_RUNS = {
    "regularization_batch_size": ("C11",),
    "regularization_bn_pn": ("C9",),
    "regularization_dropout": ("C12",),
    "regularization_mean_variance": ("C10",),
    "switchable_weights": ("C15", "C16"),
}

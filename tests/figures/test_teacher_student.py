"""Smoke tests of figures/teacher_student.py."""

import pandas as pd
import pytest

from figures import teacher_student as fig


def test_tiny_run_writes_png_and_data(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "quick", dict(N=64, alphas=[0.75, 2.0], repetitions=2))
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "teacher_student.parquet",
        "teacher_student.png",
        "teacher_student_c8.parquet",
    ]
    assert (tmp_path / "teacher_student.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "teacher_student.parquet")
    assert sorted(df["alpha"].unique()) == [0.75, 2.0] and len(df) == 4
    c8 = pd.read_parquet(tmp_path / "teacher_student_c8.parquet")
    assert {"zeta_pair", "zeta_pair_se", "supports"} <= set(c8.columns)


def test_default_run_resumes_from_its_store(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "default", dict(N=64, alphas=[2.0], repetitions=2))
    assert fig.main(["--out", str(tmp_path)]) == 0
    # the same file names as a quick run: one rule for every size
    assert {p.name for p in tmp_path.iterdir()} == {
        "teacher_student.parquet",
        "teacher_student.png",
        "teacher_student_c8.parquet",
        "teacher_student_store_default",
    }
    first = pd.read_parquet(tmp_path / "teacher_student.parquet")
    store = tmp_path / "teacher_student_store_default"
    assert store.is_dir()
    assert fig.main(["--out", str(tmp_path)]) == 0  # everything loaded from the store
    again = pd.read_parquet(tmp_path / "teacher_student.parquet")
    pd.testing.assert_frame_equal(first, again)


def test_overwrite_discards_the_store(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "default", dict(N=64, alphas=[2.0], repetitions=2))
    assert fig.main(["--out", str(tmp_path)]) == 0
    marker = tmp_path / "teacher_student_store_default" / "points" / "from-an-earlier-run"
    marker.write_bytes(b"")
    assert fig.main(["--out", str(tmp_path)]) == 0
    assert marker.exists()  # resumed: the store is kept
    assert fig.main(["--out", str(tmp_path), "--overwrite"]) == 0
    assert not marker.exists() and (tmp_path / "teacher_student.parquet").exists()


@pytest.mark.slow
def test_quick_mode(tmp_path):
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "teacher_student.png").exists()


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_off_axis_and_unconverged_points_are_named(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "quick", dict(N=64, alphas=[0.75, 2.0], repetitions=2))
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    df = pd.read_parquet(tmp_path / "teacher_student.parquet")
    df.loc[df["alpha"] == 0.75, "eps_pinv"] = 336.0  # a pseudo-inverse point near alpha = 1
    df.loc[df.index[-1], "converged"] = 0.0  # one of the two data sets at alpha = 2
    texts = _texts(fig.plot(df, fig.c8_summary(df)))
    assert any(t.startswith("pseudo-inverse (sim.), α=0.75: 336 ") for t in texts), texts
    assert "1/2 data sets\nconverged" in texts


def test_zeta_zero_from_worse_than_pinv_is_marked(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "quick", dict(N=64, alphas=[0.75, 2.0], repetitions=2))
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    df = pd.read_parquet(tmp_path / "teacher_student.parquet")
    summary = fig.c8_summary(df)
    summary.loc[summary["variant"] == "batch_norm", "zeta_pair"] = 0.0
    labels = fig.plot(df, summary).axes[1].get_legend_handles_labels()[1]
    assert any(lab.startswith("open at 0: BN worse than the pseudo-inverse") for lab in labels)


def test_run_returns_the_files_it_writes(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "quick", dict(N=64, alphas=[2.0], repetitions=2))
    paths = fig.run(tmp_path, quick=True)
    assert sorted(paths) == sorted(tmp_path.iterdir())
    with pytest.raises(ValueError, match="quick and full"):
        fig.run(tmp_path, quick=True, full=True)


def test_the_plot_is_drawn_at_the_sweeps_own_batch_size():
    """A sweep at M = 8: the title and the candidate 1/(2M) line are those of M = 8."""
    from simulations.teacher_student import bn_sweep

    df = bn_sweep(48, [0.75, 2.0], 2, M=8, delta2=0.25, seed=0)
    figure = fig.plot(df, fig.c8_summary(df))
    assert "$M=8$" in figure.axes[0].get_title()
    lines = {ln.get_label(): ln.get_ydata() for ln in figure.axes[1].get_lines()}
    assert set(lines[r"$1/(2M)$"]) == {1 / 16}

"""Smoke tests of figures/teacher_student.py."""

import pandas as pd
import pytest

from figures import teacher_student as fig


def test_tiny_run_writes_png_and_data(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "quick", dict(N=64, alphas=[0.75, 2.0], reps=2))
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "teacher_student_quick.png").stat().st_size > 10_000
    df = pd.read_parquet(tmp_path / "teacher_student_quick.parquet")
    assert sorted(df["alpha"].unique()) == [0.75, 2.0] and len(df) == 4
    c8 = pd.read_parquet(tmp_path / "teacher_student_quick_c8.parquet")
    assert {"zeta_pair", "zeta_pair_se", "supports"} <= set(c8.columns)


def test_default_run_resumes_from_its_store(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "default", dict(N=64, alphas=[2.0], reps=2))
    assert fig.main(["--out", str(tmp_path)]) == 0
    first = pd.read_parquet(tmp_path / "teacher_student_default.parquet")
    store = tmp_path / "teacher_student_store_default"
    assert store.is_dir()
    assert fig.main(["--out", str(tmp_path)]) == 0  # everything loaded from the store
    again = pd.read_parquet(tmp_path / "teacher_student_default.parquet")
    pd.testing.assert_frame_equal(first, again)


def test_overwrite_discards_the_store(tmp_path, monkeypatch):
    monkeypatch.setitem(fig.SIZES, "default", dict(N=64, alphas=[2.0], reps=2))
    assert fig.main(["--out", str(tmp_path)]) == 0
    marker = tmp_path / "teacher_student_store_default" / "points" / "from-an-earlier-run"
    marker.write_bytes(b"")
    assert fig.main(["--out", str(tmp_path)]) == 0
    assert marker.exists()  # resumed: the store is kept
    assert fig.main(["--out", str(tmp_path), "--overwrite"]) == 0
    assert not marker.exists() and (tmp_path / "teacher_student_default.parquet").exists()


@pytest.mark.slow
def test_quick_mode(tmp_path):
    assert fig.main(["--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "teacher_student_quick.png").exists()

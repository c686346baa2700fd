"""Saving sweep results as they finish, atomically, so an interrupted sweep resumes.

Layout of a store folder::

    DIR/meta.json             which sweep this is (name, root seed, parameter names)
    DIR/points/<task>.parquet one file per finished (point, repetition), written atomically
    DIR/results.parquet       all rows in grid order, written when the sweep completes

Each file is written to a temporary name in the same folder and moved into place with
``os.replace``, so a killed run leaves either a whole file or none. Restarted with the same
arguments, a sweep reads the finished tasks back and runs only the rest.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["SweepStore", "atomic_write_bytes", "atomic_write_parquet"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` as Parquet (pyarrow) atomically."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, engine="pyarrow", index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class SweepStore:
    """A folder holding one sweep's finished tasks (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.points = self.path / "points"
        try:
            self.points.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ValueError(
                f"store={str(path)!r} is not a writable folder ({exc.strerror or exc})"
            ) from exc

    def check_meta(self, meta: dict[str, Any]) -> None:
        """Record ``meta`` on first use; refuse a folder that holds a different sweep."""
        f = self.path / "meta.json"
        if f.exists():
            old = json.loads(f.read_text())
            if old != meta:
                diff = {
                    k: (old.get(k), meta.get(k))
                    for k in set(old) | set(meta)
                    if old.get(k) != meta.get(k)
                }
                raise ValueError(
                    f"store={str(self.path)!r} holds a different sweep ({diff}); "
                    "use another folder or delete it"
                )
        else:
            atomic_write_bytes(f, json.dumps(meta, indent=1, sort_keys=True).encode())

    def done(self) -> set[str]:
        """Task ids of the finished tasks."""
        return {p.stem for p in self.points.glob("*.parquet")}

    def save(self, task: str, row: dict[str, Any]) -> None:
        atomic_write_parquet(pd.DataFrame([row]), self.points / f"{task}.parquet")

    def load(self, task: str) -> dict[str, Any]:
        df = pd.read_parquet(self.points / f"{task}.parquet", engine="pyarrow")
        return df.to_dict("records")[0]

    def save_results(self, df: pd.DataFrame) -> Path:
        out = self.path / "results.parquet"
        atomic_write_parquet(df, out)
        return out

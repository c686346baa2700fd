"""Saving sweep results as they finish, atomically, so an interrupted sweep resumes.

Layout of a store folder::

    DIR/meta.json             which sweep this is (name, root seed, parameter names) and the
                              code that computed it (:func:`~regnorm.sweeps.provenance.provenance`)
    DIR/points/<task>.parquet one file per finished (point, repetition), written atomically
    DIR/results.parquet       all rows in grid order, written when the sweep completes

Each file is written to a temporary name in the same folder and moved into place with
``os.replace``, so a killed run leaves either a whole file or none. Restarted with the same
arguments and the same code, a sweep reads the finished tasks back and runs only the rest; a
store written by other code is refused unless the caller asks to discard it.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["SweepStore", "atomic_write_bytes", "atomic_write_parquet"]

#: Keys of meta.json that say which sweep a store holds; the other keys say which code ran it.
IDENTITY = ("name", "seed", "parameters", "seed_key")


def _open_temporary(path: Path) -> tuple[int, Path]:
    """Create a new file next to ``path`` for writing, with mode ``0o666`` minus the umask.

    ``tempfile.mkstemp`` would make it ``0o600`` whatever the umask, and ``os.replace`` keeps
    the mode: results would be unreadable by the rest of a group that shares them.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 64 random bits
            continue


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``).

    The file gets the mode an ordinary ``open(path, "wb")`` would give it (``0o666`` minus
    the umask), and its data reach the disk before it replaces ``path``.
    """
    path = Path(path)
    fd, tmp = _open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` as Parquet (pyarrow) atomically, like :func:`atomic_write_bytes`."""
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=False)
    atomic_write_bytes(path, buf.getvalue())


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

    def check_meta(
        self, meta: dict[str, Any], code: dict[str, Any], *, discard_stale: bool = False
    ) -> None:
        """Record the sweep on first use; refuse a folder holding another sweep or other code.

        Parameters
        ----------
        meta : dict
            Which sweep this is: values for the keys ``IDENTITY`` (JSON-serializable).
        code : dict
            Which code computes it (:func:`~regnorm.sweeps.provenance.provenance`).
        discard_stale : bool
            If the folder holds this sweep computed by other code (``code`` differs, or was
            not recorded), delete its results and start over instead of refusing.

        Raises
        ------
        ValueError
            If the folder holds a different sweep (whatever ``discard_stale``), or this sweep
            computed by other code and ``discard_stale`` is false.
        """
        f = self.path / "meta.json"
        new = {**meta, "code": code}
        if f.exists():
            try:
                old = json.loads(f.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(
                    f"store={str(self.path)!r}: cannot read {f.name} ({exc}); delete the folder "
                    "or use another one"
                ) from exc
            diff = {k: (old.get(k), meta.get(k)) for k in IDENTITY if old.get(k) != meta.get(k)}
            if diff:
                raise ValueError(
                    f"store={str(self.path)!r} holds a different sweep ({diff}); "
                    "use another folder or delete it"
                )
            stale = _code_differences(old.get("code"), code)
            if not stale:
                return
        elif self.done():
            stale = "it holds finished tasks but no meta.json"
        else:
            stale = None
        if stale:
            if not discard_stale:
                raise ValueError(
                    f"store={str(self.path)!r} was written by other code ({stale}); its results "
                    "may differ from this code's. Pass discard_stale=True to sweep() to "
                    "discard them and start over, or delete the folder"
                )
            self.discard()
        atomic_write_bytes(f, json.dumps(new, indent=1, sort_keys=True).encode())

    def discard(self) -> None:
        """Delete the finished tasks and the results (meta.json stays until replaced)."""
        # meta.json goes last (it is replaced by the caller): a discard killed midway leaves
        # the old meta in place, so the leftover tasks are still refused
        for p in [*self.points.iterdir(), *self.path.glob(".*.tmp")]:
            if p.suffix in (".parquet", ".tmp"):
                p.unlink(missing_ok=True)
        (self.path / "results.parquet").unlink(missing_ok=True)

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


def _code_differences(old: Any, new: dict[str, Any]) -> str | None:
    """What differs between the code recorded in a store and ``new``, in words."""
    if not isinstance(old, dict):
        return "it was written before regnorm recorded the code versions in meta.json"
    names = {"task": "task function hash"}
    diffs = [
        f"{names.get(k, k)} {old.get(k)} != {new.get(k)}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    return ", ".join(diffs) or None

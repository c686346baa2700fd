"""The output folder of ``regnorm reproduce``: its settings, its finished stages, and resume.

Layout of a run folder ``OUT``::

    OUT/run.json          the run's settings and its finished stages (written atomically,
                          after the files of the stage it records)
    OUT/.claims/C5.json   the records of one claim (``ClaimRecord.as_dict()`` as JSON)
    OUT/<files>           what the figure scripts wrote (each file atomically)
    OUT/REPORT.md         built from ``run.json`` and the files it lists, after every stage
    OUT/claims.parquet    every stored claim record, rebuilt with the report
    OUT/claims.json       the same records as JSON (:func:`regnorm.claims.records_from_json`)

A stage (one figure script, or the check of one claim id) counts as finished only when
``run.json`` lists it and every file it lists still has the recorded size and SHA-256, so a
half-written or since-changed file is never used: that stage runs again. The settings that
decide whether two runs may share a folder are :func:`run_settings`; the figure list and the
claims selection are not among them, so partial runs of the same settings add up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from regnorm.claims import ClaimRecord, claim_order, records_from_json, records_to_json
from regnorm.sweeps import atomic_write_bytes

__all__ = [
    "CLAIMS_FILE",
    "CLAIMS_JSON",
    "REPORT_FILE",
    "RunFolder",
    "RunFolderError",
    "run_settings",
    "source_hash",
]

#: Bumped when the layout of ``run.json`` changes; a folder of another format is a
#: different run.
FORMAT = 1
RUN_FILE = "run.json"
CLAIMS_DIR = ".claims"
LOCK_FILE = ".run.lock"
REPORT_FILE = "REPORT.md"
CLAIMS_FILE = "claims.parquet"
CLAIMS_JSON = "claims.json"
#: The files the run folder writes itself (not a stage's).
OWN_FILES = (RUN_FILE, REPORT_FILE, CLAIMS_FILE, CLAIMS_JSON)
#: What an earlier, unrecorded run of ``regnorm reproduce`` leaves in a folder.
RESULT_SUFFIXES = (".png", ".parquet")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_CLAIM_ID = re.compile(r"C[0-9]{1,3}")


class RunFolderError(ValueError):
    """The folder cannot take this run (other settings, another run writing to it)."""


def source_hash(root: Path, packages: Sequence[str]) -> str:
    """SHA-256 of the Python sources of ``packages`` in the folder ``root``.

    The command line passes the folder that holds regnorm and the packages installed beside
    it, so a user's ``figures.py`` in the working folder does not change the hash.
    """
    h = hashlib.sha256()
    for package in packages:
        base = root / package
        files = sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
        h.update(f"{package}:{len(files)}\0".encode())
        for p in files:
            h.update(p.relative_to(root).as_posix().encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


def run_settings(*, quick: bool, seed: int, root: Path, packages: Sequence[str]) -> dict[str, Any]:
    """What must agree for two runs to share a folder.

    The size (``quick``), the root seed, and the code: regnorm's version, the hash of the
    sources that make the results (:func:`source_hash` of ``packages`` in ``root``) and the
    versions of NumPy and SciPy. The executor is not among them: a sweep gives the same
    numbers on every executor.
    """
    import numpy
    import scipy

    from regnorm import __version__

    return {
        "quick": bool(quick),
        "seed": int(seed),
        "regnorm": __version__,
        "source_sha256": source_hash(root, packages),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def _describe_difference(old: dict, new: dict) -> str:
    parts = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a != b:
            if k == "source_sha256":
                parts.append("regnorm's sources changed")
            else:
                parts.append(f"{k}: {a!r} there, {b!r} here")
    return "; ".join(parts)


def _check_record(record: Any) -> dict:
    """``record`` if it has the shape :class:`RunFolder` writes, else ``ValueError``."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        got = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"format {got!r}, expected {FORMAT}")
    if not isinstance(record.get("settings"), dict):
        raise ValueError("no settings")
    for kind in ("figures", "claims"):
        stages = record.get(kind)
        if not isinstance(stages, dict):
            raise ValueError(f"no {kind}")
        for name, e in stages.items():
            ok = isinstance(e, dict) and isinstance(e.get("files"), dict)
            ok = ok and all(isinstance(e.get(k), int | float) for k in ("wall_s", "cpu_s"))
            if not ok or not all(isinstance(m, dict) for m in e["files"].values()):
                raise ValueError(f"the record of {kind} {name!r} is incomplete")
    return record


class RunFolder:
    """One run's output folder: open it with :meth:`open`, then record stages as they finish.

    Parameters
    ----------
    path : path-like
        The folder (created if missing).
    settings : dict
        This run's :func:`run_settings`.
    overwrite : bool
        Discard what the folder holds from an earlier run instead of refusing it.

    Raises
    ------
    RunFolderError
        The folder holds a run with other settings, or results that no run recorded (and
        ``overwrite`` is false), or another run is writing to it now.
    """

    def __init__(self, path: str | os.PathLike, settings: dict[str, Any], *, overwrite: bool):
        self.path = Path(path)
        self.settings = dict(settings)
        self._hashes: dict[tuple, str] = {}
        self._lock = self._acquire_lock()
        try:
            #: What --overwrite replaced: "" (nothing), "run" (a recorded run, deleted) or
            #: "unrecorded" (results no run recorded: left in place, written over).
            self.discarded = self._adopt(overwrite)
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------
    def _acquire_lock(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            return None
        f = (self.path / LOCK_FILE).open("a")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise RunFolderError(
                f"another regnorm reproduce is writing to {str(self.path)!r} now; wait for it "
                "or use another --out"
            ) from None
        return f

    def close(self) -> None:
        """Release the folder (the lock; everything else is on disk already)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _adopt(self, overwrite: bool) -> str:
        """Read the folder's record; return what was discarded (see ``discarded``)."""
        where = repr(str(self.path))
        hint = "use another --out, or pass --overwrite to discard that run"
        run_file = self.path / RUN_FILE
        if run_file.exists():
            try:
                old = _check_record(json.loads(run_file.read_bytes()))
            except ValueError as exc:
                if not overwrite:
                    raise RunFolderError(
                        f"{where} holds a {RUN_FILE} that is not a regnorm run record ({exc}); "
                        f"{hint}"
                    ) from None
                self._delete_recorded({})
                self._start()
                return "unrecorded"
            if overwrite:
                self._delete_recorded(old)
                self._start()
                return "run"
            if old.get("settings") != self.settings:
                diff = _describe_difference(old.get("settings") or {}, self.settings)
                raise RunFolderError(f"{where} holds a run with other settings ({diff}); {hint}")
            self.manifest = old
            return ""
        unrecorded = sorted(
            p.name
            for p in self.path.iterdir()
            if p.is_file()
            and (p.name in (REPORT_FILE, CLAIMS_FILE, CLAIMS_JSON) or p.suffix in RESULT_SUFFIXES)
            and not p.name.startswith(".")
        )
        if unrecorded and not overwrite:
            shown = ", ".join(unrecorded[:4]) + (", ..." if len(unrecorded) > 4 else "")
            raise RunFolderError(
                f"{where} holds results that no recorded run wrote ({shown}); use another "
                "--out, or pass --overwrite to write over them"
            )
        self._start()
        return "unrecorded" if unrecorded else ""

    def _start(self) -> None:
        self.manifest = {"format": FORMAT, "settings": self.settings, "figures": {}, "claims": {}}
        self._save()

    def _delete_recorded(self, old: dict) -> None:
        # Only plain names inside the folder, as this module records them: a hand-edited
        # run.json must not make --overwrite delete anything outside it.
        files, folders = {RUN_FILE, REPORT_FILE, CLAIMS_FILE, CLAIMS_JSON}, set()
        figures = old.get("figures")
        for entry in figures.values() if isinstance(figures, dict) else ():
            if isinstance(entry, dict):
                files.update(entry.get("files") or ())
                folders.update(entry.get("folders") or ())

        def inside(names: set) -> list[Path]:
            return [self.path / n for n in names if isinstance(n, str) and _PLAIN_NAME.fullmatch(n)]

        for p in inside(folders):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
        doomed = inside(files)
        claims_dir = self.path / CLAIMS_DIR
        if claims_dir.is_dir():
            doomed += [p for p in claims_dir.iterdir() if _CLAIM_ID.fullmatch(p.stem)]
        for p in doomed:
            if p.is_file() or p.is_symlink():
                p.unlink()

    def _sha256(self, path: Path) -> str:
        # The report is rebuilt after every stage and checks every listed file; a file
        # whose inode, size and mtime are unchanged is not read again.
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in self._hashes:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._hashes[key] = h.hexdigest()
        return self._hashes[key]

    def _save(self) -> None:
        data = json.dumps(self.manifest, indent=1, sort_keys=True).encode()
        atomic_write_bytes(self.path / RUN_FILE, data)

    # -- stages --------------------------------------------------------------------------
    def _files_intact(self, files: dict[str, dict[str, Any]]) -> str | None:
        """None if every listed file is as recorded, else what is wrong with the first."""
        for name, meta in files.items():
            p = self.path / name
            if not p.is_file():
                return f"{name} is missing"
            if p.stat().st_size != meta.get("bytes") or self._sha256(p) != meta.get("sha256"):
                return f"{name} changed since it was written"
        return None

    def finished(self, kind: str, name: str) -> tuple[bool, str]:
        """Whether stage ``name`` of ``kind`` (``"figures"``, ``"claims"``) is finished.

        Returns ``(True, "")`` for a finished stage whose files are intact, else ``False``
        and why not (empty for a stage never finished here).
        """
        entry = self.manifest[kind].get(name)
        if entry is None:
            return False, ""
        problem = self._files_intact(entry["files"])
        if problem is not None:
            return False, problem
        return True, ""

    def forget(self, kind: str, name: str) -> None:
        """Drop a stage's record before it runs again."""
        if self.manifest[kind].pop(name, None) is not None:
            self._save()

    def snapshot(self) -> dict[str, tuple[bool, int, int, int]]:
        """The entries at the top of the folder (not hidden): (is a folder, inode, size, mtime)."""
        out = {}
        for p in self.path.iterdir():
            if p.name.startswith(".") or p.name in OWN_FILES:
                continue
            if p.is_symlink() or not (p.is_file() or p.is_dir()):
                continue
            st = p.stat()
            out[p.name] = (p.is_dir(), st.st_ino, st.st_size, st.st_mtime_ns)
        return out

    def written_since(self, before: dict) -> tuple[list[str], list[str]]:
        """Files, and folders, created or changed since ``before`` (a :meth:`snapshot`).

        A folder counts when it is new or its own entries changed (a sweep store finishing
        writes its results file into it).
        """
        now = self.snapshot()
        changed = sorted(n for n, s in now.items() if before.get(n) != s)
        return [n for n in changed if not now[n][0]], [n for n in changed if now[n][0]]

    def _file_meta(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {
            n: {"bytes": (self.path / n).stat().st_size, "sha256": self._sha256(self.path / n)}
            for n in names
        }

    def _stamp(self, wall_s: float, cpu_s: float, executor: str | None) -> dict[str, Any]:
        return {
            "wall_s": round(wall_s, 3),
            "cpu_s": round(cpu_s, 3),
            "executor": executor,
            "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }

    def record_figure(
        self,
        name: str,
        written: tuple[list[str], list[str]],
        wall_s: float,
        cpu_s: float,
        executor: str | None,
    ) -> None:
        """Record figure stage ``name`` as finished, with what it wrote (:meth:`written_since`).

        Its files are checked when the stage is kept; its folders (sweep stores, caches of
        the stage's own) are not results, and are only deleted with the run.
        """
        files, folders = written
        entry = {
            "files": self._file_meta(files),
            "folders": folders,
            **self._stamp(wall_s, cpu_s, executor),
        }
        self.manifest["figures"][name] = entry
        self._save()

    def record_claim(
        self,
        id: str,
        records: list[ClaimRecord],
        wall_s: float,
        cpu_s: float,
        executor: str | None,
    ) -> None:
        """Store claim ``id``'s records, then record the stage as finished."""
        rel = f"{CLAIMS_DIR}/{id}.json"
        (self.path / CLAIMS_DIR).mkdir(exist_ok=True)
        atomic_write_bytes(self.path / rel, records_to_json(records))
        entry = {
            "files": self._file_meta([rel]),
            "records": len(records),
            **self._stamp(wall_s, cpu_s, executor),
        }
        self.manifest["claims"][id] = entry
        self._save()

    def expect_claims(self, ids: list[str]) -> None:
        """Note the claim ids registered when the claims were last run (for the report)."""
        if self.manifest.get("registered_claims") != ids:
            self.manifest["registered_claims"] = list(ids)
            self._save()

    def record_run(self, wall_s: float, cpu_s: float, workers: int) -> None:
        """Record the wall and CPU time of this invocation, and its number of stage workers.

        ``cpu_s`` counts this process and the worker processes that ran its stages.
        """
        self.manifest["last_run"] = {
            "wall_s": round(wall_s, 3),
            "cpu_s": round(cpu_s, 3),
            "workers": int(workers),
            "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        }
        self._save()

    def claim_records(self) -> list[ClaimRecord]:
        """The stored records of every finished claim, in claim order."""
        out: list[ClaimRecord] = []
        for id in sorted(self.manifest["claims"], key=claim_order):
            if self.finished("claims", id)[0]:
                out += records_from_json((self.path / CLAIMS_DIR / f"{id}.json").read_bytes())
        return out


def write_report(run: RunFolder, captions: dict[str, str]) -> list[ClaimRecord]:
    """Rebuild REPORT.md, claims.parquet and claims.json from what the run folder holds.

    ``captions`` maps each figure script's name to its caption, in the report's order;
    returns the records.
    """
    from regnorm.claims import records_to_frame
    from regnorm.sweeps import atomic_write_parquet

    records = run.claim_records()
    if records:
        atomic_write_parquet(records_to_frame(records), run.path / CLAIMS_FILE)
        atomic_write_bytes(run.path / CLAIMS_JSON, records_to_json(records))
    else:
        # no usable claim records: files left from them would outlive them
        (run.path / CLAIMS_FILE).unlink(missing_ok=True)
        (run.path / CLAIMS_JSON).unlink(missing_ok=True)
    atomic_write_bytes(run.path / REPORT_FILE, report_text(run, captions, records).encode())
    return records


def report_text(run: RunFolder, captions: dict[str, str], records: list[ClaimRecord]) -> str:
    """REPORT.md of a run folder: claim summary, figures, per-claim records, run time."""
    from regnorm.report import claim_sections, figures_section, findings_table, summary_line

    m = run.manifest
    st = m["settings"]
    stages = [*m["figures"].values(), *m["claims"].values()]
    wall = sum(e["wall_s"] for e in stages)
    cpu = sum(e["cpu_s"] for e in stages)
    lines = [
        "# regnorm reproduce — report",
        "",
        f"regnorm {st['regnorm']}; settings: quick={st['quick']}, seed={st['seed']}; "
        f"numpy {st['numpy']}, scipy {st['scipy']}; sources sha256 {st['source_sha256'][:12]}",
        "",
        "## Summary of the claims",
        "",
    ]
    if records:
        lines += [
            summary_line(records) + ". Identities check the code, not the claim, and are "
            "counted apart.",
            "",
            findings_table(records),
        ]
    else:
        lines.append("(claims check not run)")
    unchecked = [c for c in m.get("registered_claims", []) if c not in m["claims"]]
    unchecked += [c for c in m["claims"] if not run.finished("claims", c)[0]]
    unchecked.sort(key=claim_order)
    if unchecked:
        lines += ["", f"Not checked yet: {', '.join(unchecked)}."]

    shown = [n for n in captions if n in m["figures"]]
    shown += sorted(n for n in m["figures"] if n not in captions)
    intact = {n: run.finished("figures", n) for n in shown}
    pictures = [
        (f, captions.get(n, n))
        for n in shown
        if intact[n][0]
        for f in m["figures"][n]["files"]
        if f.endswith(".png")
    ]
    lines += ["", "## Figures", ""]
    lines += figures_section(pictures) if pictures else ["(none run)", ""]
    missing = [n for n in captions if n not in m["figures"]]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]

    lines += ["## Claims, record by record", ""]
    if records:
        lines += [
            "The full machine-readable records are in claims.parquet (one row per "
            "record, parameters as JSON and as columns) and claims.json.",
            "",
            *claim_sections(records),
        ]
    else:
        lines += ["(claims check not run)", ""]

    lines += ["## Run time", ""]
    last = m.get("last_run")
    if last:
        busy = last["cpu_s"] / last["wall_s"] if last["wall_s"] > 0 else 0.0
        lines += [
            f"This run (finished {last['finished_utc']} UTC): {last['wall_s']:.1f} s wall, "
            f"{last['cpu_s']:.1f} s CPU on {last['workers']} stage worker"
            f"{'s' if last['workers'] != 1 else ''} ({busy:.2f} cores busy on average; CPU of "
            "the regnorm process and of the processes that ran its stages).",
            "",
        ]
    lines += [
        f"Compute time of the stages below: {wall:.1f} s wall, {cpu:.1f} s CPU (summed over "
        "the stages; stages run side by side on several workers, so the sum of their wall "
        "times exceeds the run's; worker processes of a sweep's own executor are not "
        "counted). A stage kept from an earlier run keeps the times of the run that finished "
        "it.",
        "",
    ]
    for name in shown:
        e = m["figures"][name]
        ok, problem = intact[name]
        pngs = [f for f in e["files"] if f.endswith(".png")]
        data = [f for f in e["files"] if not f.endswith(".png")]
        where = f", executor {e['executor']}" if e["executor"] else ""
        stale = "" if ok else f" **not usable: {problem}; run it again**"
        lines.append(
            f"- figure `{name}` ({e['wall_s']:.1f} s wall, {e['cpu_s']:.1f} s CPU{where}; "
            f"finished {e['finished_utc']} UTC): figures {', '.join(pngs) or 'none'}; "
            f"data {', '.join(data) or 'none'}{stale}"
        )
    for cid in sorted(m["claims"], key=claim_order):
        e = m["claims"][cid]
        where = f", executor {e['executor']}" if e.get("executor") else ""
        lines.append(f"- claim {cid} ({e['wall_s']:.1f} s wall, {e['cpu_s']:.1f} s CPU{where})")
    return "\n".join(lines) + "\n"

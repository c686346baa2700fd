"""Sweep progress bars: drawn on a (pseudo-)terminal, silent when standard error is a pipe."""

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# The default (progress=None), then forced on, then off, with a mark on stderr between them.
SWEEPS = textwrap.dedent(
    """
    import sys
    from regnorm.sweeps import sweep

    def task(p, rng):
        return {"x": rng.random()}

    sweep(task, {"i": [1, 2, 3]}, name="default-bar")
    print("|mark|", file=sys.stderr, flush=True)
    sweep(task, {"i": [1, 2, 3]}, name="forced-bar", progress=True)
    sweep(task, {"i": [1, 2, 3]}, name="no-bar", progress=False)
    print("finished")
    """
)


def _full_bar(name: str) -> re.Pattern:
    """What tqdm draws when the sweep ``name`` of three tasks is complete."""
    return re.compile(name + r": 100%\|.+\| 3/3 \[")


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _run_on_a_terminal(code: str, columns: int | None) -> str:
    """Run ``code`` with stdin, stdout and stderr on a new pseudo-terminal; return its output.

    ``columns=None`` leaves the terminal's size unset (0 x 0), as ``script`` or a program
    driving ``ssh -t`` do.
    """
    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=_env(),
        close_fds=True,
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(leader, 4096)
            except OSError:  # EIO: the program closed the terminal
                break
            if not data:
                break
            out += data
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return out.decode(errors="replace")


@pytest.mark.parametrize("columns", [None, 80], ids=["size-unset", "80-columns"])
def test_bars_on_a_terminal(columns):
    out = _run_on_a_terminal(SWEEPS, columns)
    assert "finished" in out, out
    assert _full_bar("default-bar").search(out), out
    assert _full_bar("forced-bar").search(out), out
    assert "no-bar" not in out, out


def test_no_bar_when_stderr_is_a_pipe_unless_forced():
    out = subprocess.run(
        [sys.executable, "-c", SWEEPS], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == "finished\n"
    before, after = out.stderr.split("|mark|\n")
    assert before == ""
    assert _full_bar("forced-bar").search(after), after
    assert "no-bar" not in after, after


@pytest.mark.parametrize("value", [0, "yes"])
def test_progress_must_be_a_bool_or_none(value):
    from regnorm.sweeps import sweep

    with pytest.raises(TypeError, match=f"progress must be True, False or None, got {value!r}"):
        sweep(lambda p, rng: {"x": 1}, {"i": [1]}, progress=value)

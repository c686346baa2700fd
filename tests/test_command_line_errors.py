"""The command line's promises, checked on the real command line in a child process.

A user error prints one line on stderr and exits with code 2, with no traceback; anything
else that goes wrong is an internal error (code 1). The children run ``python -m regnorm`` (or
the installed ``regnorm`` script), so what is checked is what a user sees, exit code included.
"""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
from pathlib import Path

import pytest

MODULE = [sys.executable, "-m", "figures"]
SCRIPT = Path(sys.executable).with_name("regnorm")

#: Runs the command line in a process where Dask distributed cannot be imported.
WITHOUT_DASK = (
    "import sys; sys.modules['distributed'] = None; "
    "from figures.cli import main; sys.exit(main(sys.argv[1:]))"
)

#: Runs the command line with a check whose code has a bug (a ValueError deep inside it).
WITH_BROKEN_CHECK = """
import sys
from figures import cli
from regnorm import claims

def broken_check(ctx):
    raise ValueError("a bug deep inside a check")
    yield

cli.all_checks = lambda: [claims.claim("C13")(broken_check)]
sys.exit(cli.main(sys.argv[1:]))
"""

#: A short connect timeout for the scheduler probes (Dask reads it from the environment).
FAST_DASK = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}


def regnorm(*args: str, cwd=None, env=None, command=MODULE) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def console_script() -> list[str]:
    if not SCRIPT.exists():
        pytest.skip(f"no console script beside {sys.executable}")
    return [str(SCRIPT)]


def assert_user_error(p: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr, no traceback; returns the line."""
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regnorm: error: "), p.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--claims", "C5,c5"], ["--claims", "C5 is named more than once"]),
        (["--claims", "C5", "--claims", " c5 "], ["--claims", "C5 is named more than once"]),
    ],
    ids=["duplicate", "duplicate-across-options"],
)
def test_claim_ids_refused(args, fragments):
    assert_user_error(regnorm("verify", "--quick", *args), *fragments)


def test_console_script_user_error():
    p = regnorm("verify", "--quick", "--claims", "C5,,C7", command=console_script())
    assert_user_error(p, "--claims", "item 2 is empty")


def test_claim_ids_normalized_and_said_and_executor_ignored_said():
    """Case and spaces are ignored, repeated options add up, and stderr says what ran and
    that the executor is not used by claims that run no sweep (an information, code 0)."""
    p = regnorm(
        "verify", "--quick", "--json", "--claims", " c13 ", "--claims", "C17",
        "--executor", "processes:2",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    said = p.stderr.splitlines()
    assert "regnorm: claims C13, C17" in said
    assert any(
        line.startswith("regnorm: note: --executor processes:2 is ignored by C13, C17 ")
        for line in said
    ), p.stderr
    assert '"id": "C13"' in p.stdout and '"id": "C17"' in p.stdout


def test_empty_out_refused(tmp_path):
    # with cwd a scratch folder, so that code which takes '' for the working folder writes
    # nowhere that matters
    p = regnorm("reproduce", "--out", "", "--figures", "nope", cwd=tmp_path)
    assert_user_error(p, "--out ''", "folder")
    assert list(tmp_path.iterdir()) == []


def test_dask_not_installed_names_the_right_install():
    p = regnorm(
        "verify", "--quick", "--claims", "C22", "--executor", "dask:1",
        command=[sys.executable, "-c", WITHOUT_DASK],
    )  # fmt: skip
    line = assert_user_error(p, "--executor dask:1", 'pip install ".[dask]"', "dask[distributed]")
    assert "regnorm[" not in line


class _NotDask(socketserver.BaseRequestHandler):
    """Answers every connection like a web server refusing the request."""

    def handle(self):
        self.request.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def web_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NotDask)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server():
    """Accepts connections (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"tcp://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


@pytest.mark.parametrize("where", ["web_server", "silent_server", "closed_port"])
def test_no_scheduler_at_address(request, where):
    address = request.getfixturevalue(where)
    p = regnorm("verify", "--quick", "--claims", "C22", "--executor", address, env=FAST_DASK)
    assert_user_error(p, f"--executor {address}", "no Dask scheduler answers there")


def test_debug_keeps_the_exit_code_of_a_user_error():
    p = regnorm("verify", "--claims", "C404", env={"REGNORM_DEBUG": "1"})
    assert p.returncode == 2, p.stderr
    assert p.stderr.splitlines()[-1].startswith("regnorm: error: --claims: unknown claim id")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "REGNORM_DEBUG=1"])
def test_a_bug_is_an_internal_error(debug):
    p = regnorm(
        "verify", "--quick", "--claims", "C13",
        command=[sys.executable, "-c", WITH_BROKEN_CHECK],
        env={"REGNORM_DEBUG": "1" if debug else ""},
    )  # fmt: skip
    assert p.returncode == 1, p.stderr
    last = p.stderr.splitlines()[-1]
    assert last.startswith("regnorm: internal error: ValueError: a bug deep inside a check")
    if debug:
        assert "Traceback" in p.stderr and "broken_check" in p.stderr
    else:
        assert "Traceback" not in p.stderr and "REGNORM_DEBUG=1" in last


@pytest.fixture
def foreign_modules(tmp_path):
    """A working folder holding a user's figures.py, simulations.py and derivations.py."""
    for name in ("figures", "simulations", "derivations"):
        (tmp_path / f"{name}.py").write_text(f'raise SystemExit("the user\'s {name}.py ran")\n')
    return tmp_path


def test_own_figures_despite_a_users_figures_py(foreign_modules):
    p = regnorm(
        "reproduce", "--figures", "nope", "--out", "out", cwd=foreign_modules,
        command=console_script(),
    )  # fmt: skip
    assert_user_error(p, "--figures: unknown figure nope", "bn_noise", "teacher_student")


@pytest.mark.parametrize("how", ["console script", "python -m figures"])
def test_workers_import_own_simulations_despite_a_users_simulations_py(foreign_modules, how):
    (foreign_modules / "figures.py").unlink()  # python -m figures would run it: the user's choice
    p = regnorm(
        "verify", "--quick", "--claims", "C22", "--executor", "processes:2", cwd=foreign_modules,
        command=console_script() if how == "console script" else MODULE,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "ran" not in p.stderr and "1 claims" in p.stdout


def test_help_imports_none_of_the_experiments():
    code = (
        "import sys, figures; from figures.cli import main; rc = main(['--help']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('simulations', 'derivations', 'distributed', 'matplotlib') "
        "or m.removeprefix('figures.') in figures.FIGURES))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "verify" in p.stdout and p.stdout.splitlines()[-1] == "[]"

"""The command line's check of ``--executor``: refuse a spec that cannot work, at once.

A spec :func:`regnorm.sweeps.resolve_executor` refuses, Dask not installed, or an address
where no Dask scheduler answers: each is one line naming the option and the value, before
any work starts (not a traceback after the first sweep).
"""

from __future__ import annotations

from typing import Any

from regnorm.sweeps import DaskExecutor, resolve_executor

__all__ = ["ExecutorSpecError", "check_executor_spec"]


class ExecutorSpecError(ValueError):
    """An ``--executor`` value that cannot work; the message is the one line to show."""


def check_executor_spec(spec: str | None) -> None:
    """Refuse an ``--executor`` spec that cannot work, before any work starts.

    A Dask spec needs Dask distributed importable, and a scheduler address a Dask scheduler
    answering there (:func:`_probe_scheduler`).

    Raises
    ------
    ExecutorSpecError
        With one line naming ``--executor``, the value and what is wrong.
    """
    if spec is None:
        return
    try:
        executor = resolve_executor(spec)
    except (ValueError, TypeError) as exc:
        raise ExecutorSpecError(f"--executor: {exc}") from None
    if isinstance(executor, DaskExecutor):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ExecutorSpecError(
                f"--executor {spec}: needs Dask distributed, which is not installed: "
                'pip install "dask[distributed]" '
                '(or, in a regnorm checkout, pip install ".[dask]")'
            ) from None
        if executor.address:
            _probe_scheduler(spec, executor.address)


def _probe_scheduler(spec: str, address: str) -> None:
    """Refuse ``address`` unless a Dask scheduler answers an identity call there.

    Dask's client, pointed at a service that does not speak its protocol, waits out its
    timeout or reads the service's reply as a message length (a MemoryError of exabytes);
    one identity call, bounded by Dask's ``distributed.comm.timeouts.connect``, turns both
    into a one-line refusal before any work starts.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import dask
    from dask.utils import parse_timedelta
    from distributed.comm import get_address_host_port
    from distributed.core import rpc
    from distributed.security import Security

    try:
        get_address_host_port(address)
    except (ValueError, NotImplementedError) as exc:
        raise ExecutorSpecError(
            f"--executor {spec}: not a Dask scheduler address SCHEME://HOST:PORT ({exc})"
        ) from None
    where = f"--executor {spec}: no Dask scheduler answers there"
    timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "seconds")

    async def identity() -> Any:
        args = Security().get_connection_args("client")
        async with rpc(address, timeout=timeout, connection_args=args) as scheduler:
            return await asyncio.wait_for(scheduler.identity(), timeout)

    try:
        # in a thread of its own: main() may be called where an event loop runs (Jupyter)
        with ThreadPoolExecutor(1) as thread:
            info = thread.submit(asyncio.run, identity()).result()
    except TimeoutError:
        raise ExecutorSpecError(f"{where} (no reply within {timeout:g} s)") from None
    except OSError as exc:
        raise ExecutorSpecError(f"{where} ({exc})") from None
    except (MemoryError, ValueError) as exc:
        raise ExecutorSpecError(
            f"{where} (the service there does not speak Dask's protocol: {type(exc).__name__})"
        ) from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "Scheduler":
        raise ExecutorSpecError(
            f"{where} (a Dask {kind or 'service'} answers there, not a scheduler)"
        )

"""Schedulers for the kernel's shards (DESIGN.md §8) — untrusted plumbing, outside the kernel.

The kernel (``checker.shard``, ``checker.kernel.check(..., pool=...)``) needs only an object
with ``.map(fn, iterable)`` that runs its module-level worker functions and hands back their
results; it checks that every unit of work came back exactly once.  Three such objects:

* :func:`make_pool` with one job: no pool (``None``; the kernel works in this process);
* :class:`ProcessPool`: the standard library's ``ProcessPoolExecutor`` ('forkserver' workers, BLAS
  pinned to one thread each, so N jobs use N cores and no more);
* :class:`DaskPool`: an existing Dask cluster (``distributed.Client(ADDRESS)``), optional
  extra ``mechproof[dask]``; Dask reschedules the tasks of a worker that dies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from typing import Any

# 'forkserver' where the platform has it (Linux, macOS): each worker forks from a clean server
# process that imported the kernel once, so starting N workers costs one import, not N.
METHOD = "forkserver" if "forkserver" in get_all_start_methods() else "spawn"
PRELOAD = ["numpy", "flint", "checker.shard", "checker.kernel"]
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
DASK_HINT = "the Dask scheduler needs the optional extra: pip install 'mechproof[dask]'"


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _pin_threads() -> None:
    """Worker initialiser: one BLAS/OpenMP thread per worker (also set in the parent's
    environment before the workers spawn, in case the worker imports numpy first)."""
    for var in THREAD_VARS:
        os.environ[var] = "1"


class ProcessPool:
    """``.map`` over ``jobs`` worker processes; results in input order, one task per
    item (items are already small shards), so a slow shard does not hold up the others."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        for var in THREAD_VARS:  # inherited by the spawned workers, before they load numpy
            os.environ[var] = "1"
        ctx = get_context(METHOD)
        if METHOD == "forkserver":  # workers fork from a server that has the kernel loaded
            ctx.set_forkserver_preload(PRELOAD)
        self._ex = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_pin_threads)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._ex.map(fn, items)

    def close(self) -> None:
        self._ex.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskPool:
    """``.map`` on an existing Dask cluster, results yielded in input order.

    The workers must see the model and certificate at the same paths (a shared file system);
    each worker hashes what it reads and the kernel refuses a result for other bytes.  When a
    worker dies, the scheduler re-runs its tasks elsewhere (``distributed.scheduler.allowed-
    failures``, default 3 deaths per task); a task that *raises* is not retried (``retries``
    defaults to 0: a kernel rejection is deterministic), and a ``CheckError`` raised in a
    worker is re-raised here unchanged.
    """

    def __init__(self, address: str, retries: int = 0, timeout: str = "20s") -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ImportError(DASK_HINT) from exc
        self.client = Client(address, set_as_default=False, timeout=timeout)
        self.retries = retries

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        futures = self.client.map(fn, list(items), pure=False, retries=self.retries)
        return self._results(futures)

    @staticmethod
    def _results(futures: list[Any]) -> Iterator[Any]:
        try:
            for fut in futures:
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NoPool:
    """Work in this process (``--jobs 1``): the kernel's own sequential path."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def make_pool(jobs: int | None, scheduler: str | None = None) -> Any:
    """A context manager giving the pool for ``--jobs``/``--scheduler`` (None for one job)."""
    if scheduler is not None:
        return DaskPool(scheduler)
    n = default_jobs() if jobs is None else jobs
    return _NoPool() if n <= 1 else ProcessPool(n)

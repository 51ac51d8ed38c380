"""The same shards on a Dask cluster (``--scheduler``; optional extra ``mechproof[dask]``).

A ``LocalCluster`` on 127.0.0.1 (two worker processes, one thread each; loopback only) must
give exactly the local answer for a K=4 zoo model, also when one worker is killed mid-run
(the scheduler re-runs its tasks).  Skipped when ``distributed`` is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from checker import kernel, load_model  # noqa: E402
from generators.parallel import DaskPool  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "zoo" / "k4" / "seed000.safetensors"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=0,
        dashboard_address=None,
    ) as c:
        yield c


@pytest.fixture(scope="module")
def local() -> tuple[int, int, int, int]:
    return kernel.exact_accuracy(load_model(MODEL))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prove_util import prove_to

    return prove_to(MODEL, "brute-force", tmp_path_factory.mktemp("dask") / "bf.cert")


def test_accuracy_on_the_cluster_equals_the_local_run(cluster, local) -> None:
    with DaskPool(cluster.scheduler_address) as pool:
        assert kernel.exact_accuracy(load_model(MODEL), None, pool, str(MODEL)) == local


def test_check_on_the_cluster_equals_the_local_run(cluster, cert: Path) -> None:
    a = kernel.check(cert, MODEL)
    with DaskPool(cluster.scheduler_address) as pool:
        b = kernel.check(cert, MODEL, pool=pool)
    assert (a.proven, a.ops, a.bound) == (b.proven, b.ops, b.bound)


def test_cli_with_scheduler(cluster, local, cert: Path) -> None:
    addr = cluster.scheduler_address
    r = subprocess.run(
        [sys.executable, "-m", "generators.cli", "accuracy", str(MODEL), "--json",
         "--scheduler", addr],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["correct"], out["incorrect"], out["undecided"], out["total"]) == local
    r = subprocess.run(
        [sys.executable, "-m", "generators.cli", "check", str(cert), "--model", str(MODEL),
         "--json", "--scheduler", addr],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip
    assert r.returncode == 0 and json.loads(r.stdout)["verified"] is True, r.stderr


def _kill_one_worker(client) -> int:
    pids = client.run(os.getpid)  # {worker address: pid}
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    return victim


@pytest.mark.parametrize("task", ["accuracy", "check"])
def test_a_worker_killed_mid_run_changes_nothing(cluster, local, cert: Path, task: str) -> None:
    """After the first shard result arrives, SIGKILL one worker process; the scheduler
    re-runs the lost tasks (the nanny restarts the worker) and the result is identical."""
    killed: list[int] = []
    with DaskPool(cluster.scheduler_address) as pool:

        def progress(label: str, n: int, total: int) -> None:
            if not killed:
                killed.append(_kill_one_worker(pool.client))

        if task == "accuracy":
            got = kernel.exact_accuracy(load_model(MODEL), progress, pool, str(MODEL))
            assert got == local
        else:
            a = kernel.check(cert, MODEL)
            b = kernel.check(cert, MODEL, progress, pool)
            assert (a.proven, a.ops, a.bound) == (b.proven, b.ops, b.bound)
        assert killed, "a worker was killed during the run"
        pool.client.wait_for_workers(2, timeout=60)  # the nanny brought it back
        assert killed[0] not in pool.client.run(os.getpid).values()  # as a new process

"""Running simulation tasks on a Dask cluster (``dask.distributed``).

A task is (scenario, policy, replication); each worker prepares a scenario's world once and
keeps it, so the region and travel-time trees load once per worker, not once per task. Results
are the same :class:`ReplicationResult` objects as the in-process and process-pool paths: the
calls of a replication depend only on the scenario seed and the replication number, so where a
task runs changes nothing but the wall-clock figures.

``address``: ``local`` starts a :class:`distributed.LocalCluster` of ``workers`` processes (one
thread each) for this run; anything else (``tcp://HOST:8786``) connects to a running scheduler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from planner.errors import InputError
from planner.sim.metrics import ReplicationResult
from planner.sim.scenario import Scenario

Task = tuple[Scenario, str, int]
"""One run: a scenario, a policy and a replication number."""


def run_on_cluster(
    tasks: Sequence[Task],
    *,
    run: Callable[[Scenario, str, int], ReplicationResult],
    address: str,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[ReplicationResult]:
    """Run ``tasks`` with ``run`` (:func:`planner.sim.simulator.run_task`) on Dask and return
    their results in the order of ``tasks``."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - dask is a declared dependency
        raise InputError(
            f"Dask is not installed ({exc}); pip install 'dask[distributed]'", field="--cluster"
        ) from None
    if address != "local" and not address.startswith(("tcp://", "tls://", "inproc://")):
        raise InputError(
            f"give 'local' or a scheduler address like tcp://HOST:8786, got {address!r}",
            field="--cluster",
        )
    cluster = (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        if address == "local"
        else None
    )
    try:
        try:
            target = cluster if cluster is not None else address
            client = Client(target, timeout="20s")  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise InputError(
                f"cannot reach the Dask scheduler at {address}: {exc}", field="--cluster"
            ) from None
        with client:
            futures = [client.submit(run, sc, policy, rep, pure=False) for sc, policy, rep in tasks]
            index = {f.key: k for k, f in enumerate(futures)}
            results: list[ReplicationResult | None] = [None] * len(futures)
            finished = as_completed(futures)  # type: ignore[no-untyped-call]
            for done, future in enumerate(finished, start=1):
                results[index[future.key]] = future.result()
                if progress:
                    progress(done, len(futures))
    finally:
        if cluster is not None:
            cluster.close()
    return [r for r in results if r is not None]

"""A real local Ray cluster for the tests: a head (no CPUs) and two one-CPU workers on this machine, once a session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = {"object_store_memory": 80 * 1024**2}


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of the cluster (skipped with the reason when Ray is missing or cannot start)."""
    try:
        from ray.cluster_utils import Cluster
    except ImportError:
        pytest.skip("Ray is not installed (pip install 'bluecodeagent[ray]')")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # Workers import the code under test, and the tests' own worker functions, from this checkout.
    path = [str(ROOT / "src"), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    niceness = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, 19)  # the cluster's processes inherit the lowest priority
    try:
        cluster = Cluster(initialize_head=True, head_node_args={**NODE, "num_cpus": 0, "include_dashboard": False})
        for _ in range(2):
            cluster.add_node(**NODE, num_cpus=1)
        cluster.wait_for_nodes()
    except Exception as e:
        pytest.skip(f"a local Ray cluster cannot start here: {type(e).__name__}: {e}")
    finally:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    try:
        yield cluster.address
    finally:
        cluster.shutdown()

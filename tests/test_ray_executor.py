"""The Ray executor behaves like the in-process one; placement and GPU shares are honoured.

One local Ray per module (ray.init ~2.5 s); Ray is started with 2 CPUs and 2 declared
GPUs (no real GPU needed): actors receive their share; without CUDA an implicit share trains on the CPU
(and the run records it), a share asked for (``executors.num_gpus``) is refused in one line.
"""

import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from testbed.exec.executor import InProcessExecutor  # noqa: E402
from testbed.runtime.cluster import ensure_ray, shutdown_ray  # noqa: E402
from testbed.runtime.ray_executor import Placement, RayExecutor  # noqa: E402


class Acc:
    def __init__(self, start: float, device: str = "?") -> None:
        self.total = np.array([start], dtype=np.float32)
        self.device = device

    def add(self, other: dict) -> dict:
        self.total = self.total + other["x"]
        return {"x": self.total}

    def split(self) -> tuple:
        return {"x": self.total}, {"y": np.zeros(3, np.float32)}

    def where(self) -> str:
        return self.device


@pytest.fixture(scope="module")
def cluster():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # actors cannot import test modules
    ensure_ray(num_cpus=2, num_gpus=2)
    yield
    shutdown_ray()


def test_placement_groups() -> None:
    nodes = ["a/w0", "a/w1", "b/w0", "a/server"]
    assert Placement.parse(None).groups(nodes) == {"a": ["a/w0", "a/w1", "a/server"], "b": ["b/w0"]}
    assert Placement.parse("per_worker").groups(nodes) == {"a/w0": ["a/w0", "a/server"], "a/w1": ["a/w1"],
                                                            "b/w0": ["b/w0"]}
    assert Placement.parse({"pool": 2}).groups(nodes) == {"pool0": ["a/w0", "b/w0"], "pool1": ["a/w1", "a/server"]}


def test_ray_matches_in_process_and_handles_travel(cluster) -> None:
    results = []
    for executor in (InProcessExecutor(), RayExecutor(["a/w0", "b/w0"])):
        executor.host("a/w0", Acc, 1.0)
        executor.host("b/w0", Acc, 10.0)
        h1 = executor.call("a/w0", "add", {"x": np.float32(2.0)})
        h2 = executor.call("b/w0", "add", h1)  # a/w0's value goes straight to b/w0's actor
        first, second = executor.call("a/w0", "split", num_returns=2)
        executor.check_nbytes(h2, 4, "x")  # declared sizes agree with each backend's own count
        executor.check_nbytes(second, 12, "x")
        executor.barrier()
        with pytest.raises(ValueError, match="declared 5 B but its payload is 4 B"):
            executor.check_nbytes(h2, 5, "x")  # in process: at once; on Ray: at the barrier
            executor.barrier()
        results.append((executor.resolve(h2)["x"].tolist(), executor.resolve(first)["x"].tolist(),
                        executor.elapsed_s(h2) >= 0))
        executor.shutdown()
    assert results[0] == results[1] == ([13.0], [3.0], True)


def test_declared_gpus_are_shared_and_refused_without_cuda_when_asked_for(cluster) -> None:
    executor = RayExecutor(["a/w0", "b/w0", "c/w0", "d/w0"])  # 4 actors, 2 GPUs -> 0.5 each, not asked for
    assert executor.num_gpus == 0.5 and executor.num_cpus == 0.5
    info = executor.actor_info()
    assert len(info) == 4
    assert all(len(i["gpu_ids"]) == 1 for i in info)  # each got a share of a (declared) GPU
    assert {i["device"] for i in info} == {"cpu"}  # no CUDA here: CPU, and the run records it
    assert executor.devices() == {n: {"device": "cpu"} for n in "abcd"}  # what summary.json records
    executor.host("a/w0", Acc, 0.0)
    assert executor.resolve(executor.call("a/w0", "where")) == "cpu"
    executor.shutdown()
    asked = RayExecutor(["a/w0", "b/w0"], Placement("per_datacenter", num_gpus=0.5))  # executors.num_gpus
    with pytest.raises(Exception, match=r"executors\.num_gpus.*has no CUDA"):  # never a silent CPU run
        asked.actor_info()
    asked.shutdown()


def test_one_payload_sent_to_many_nodes_is_checked_in_batches(cluster, monkeypatch) -> None:
    """A payload sent to several neighbours (gossip, FedAvg's broadcast) queues one size check per send,
    all on the same ObjectRef; a batch check must still work (ray.wait refuses repeated refs)."""
    import testbed.runtime.ray_executor as ray_executor

    monkeypatch.setattr(ray_executor, "SIZE_CHECK_BATCH", 3)
    executor = RayExecutor(["a/w0"])
    executor.host("a/w0", Acc, 1.0)
    handle = executor.call("a/w0", "add", {"x": np.float32(2.0)})
    for _ in range(7):
        executor.check_nbytes(handle, 4, "x")
    executor.barrier()
    executor.shutdown()

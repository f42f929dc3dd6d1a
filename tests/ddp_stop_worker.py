"""Run by torchrun in test_train_distributed: train through the library, and ask for a stop
on one rank only, at a chosen step, to show that every rank stops there together.

    torchrun --standalone --nproc_per_node=2 tests/ddp_stop_worker.py CORPUS OUT STOP_RANK STOP_STEP
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from tutor.gpt.distributed import cluster_from_env, join, leave
from tutor.gpt.presets import resolve_config
from tutor.gpt.train import train


class StopAtStep(threading.Event):
    """Reads as set from the `at`-th time the loop asks (under torchrun it asks once per step)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.asked, self.at = 0, at

    def is_set(self) -> bool:
        self.asked += 1
        return self.asked >= self.at or super().is_set()


def main() -> None:
    corpus, out, stop_rank, stop_step = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    cluster = cluster_from_env()
    cluster = join(cluster, "cpu")
    try:
        config = resolve_config("tiny", steps=50, log_every=1)
        stop = StopAtStep(stop_step) if cluster.rank == stop_rank else threading.Event()
        result = train([corpus], out, config, stop=stop, cluster=cluster)
        print(f"rank {cluster.rank}: interrupted={result.interrupted} step={result.step}", flush=True)
    finally:
        leave(cluster)


if __name__ == "__main__":
    main()

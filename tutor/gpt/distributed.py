"""`tutor train` under `torchrun`: which rank this process is, and the few collectives it needs.

torchrun (or any launcher that sets RANK, WORLD_SIZE and LOCAL_RANK, plus MASTER_ADDR and
MASTER_PORT) starts one process per device. Every process runs the same training loop on its
own shard of each global batch; DDP averages the gradients. A process started without those
variables is a world of one, and nothing here touches torch.distributed.

The backend is gloo on CPU and nccl on CUDA, as in nanoGPT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from tutor.errors import TrainingError, first_line

_LAUNCH_HINT = (
    "start it with `torchrun --standalone --nproc_per_node=N -m tutor train ...` "
    "(several machines: --nnodes, --node_rank and --rdzv_endpoint; see the README)"
)


@dataclass(frozen=True)
class Cluster:
    """This process's place among the training processes.

    Args:
        rank: 0..world_size-1 across all machines; rank 0 logs, evaluates and writes files.
        world_size: how many processes train together.
        local_rank: the index on this machine; picks the GPU and who prints errors here.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    cpu_group: Any = field(default=None, compare=False, repr=False)  # gloo group for host-side flags (nccl runs)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def speaks_here(self) -> bool:
        """Whether this process prints errors: one process per machine (each has its own terminal)."""
        return self.local_rank == 0


def cluster_from_env(env: dict[str, str] | None = None) -> Cluster:
    """The rank and world size a launcher set; a world of one when none did.

    Raises:
        TrainingError: the variables are present but malformed or inconsistent.
    """
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return Cluster()
    try:
        world = int(env["WORLD_SIZE"])
        rank = int(env.get("RANK", "-1"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TrainingError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); {_LAUNCH_HINT}") from exc
    if world < 1 or not 0 <= rank < world or local < 0:
        raise TrainingError(f"RANK {rank} does not fit WORLD_SIZE {world}; {_LAUNCH_HINT}")
    return Cluster(rank, world, local)


def join(cluster: Cluster, device: str, *, timeout_s: float = 600) -> Cluster:
    """Join the process group (gloo on CPU, nccl on CUDA). A world of one joins nothing.

    Returns the cluster to train with: under nccl it also carries a small gloo group, so that
    the per-step stop check (`any_rank`) never waits on the GPU.

    Raises:
        TrainingError: no rendezvous (MASTER_ADDR/PORT missing or unreachable, peers missing).
    """
    if not cluster.distributed:
        return cluster
    import torch.distributed as dist

    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise TrainingError(f"no rendezvous: WORLD_SIZE is {cluster.world_size} but {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} not set; {_LAUNCH_HINT}")  # fmt: skip
    backend = "nccl" if device.startswith("cuda") else "gloo"
    try:
        dist.init_process_group(backend=backend, rank=cluster.rank, world_size=cluster.world_size,
                                timeout=timedelta(seconds=timeout_s))  # fmt: skip
    except Exception as exc:  # torch raises RuntimeError, ValueError or DistStoreError here
        address = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
        raise TrainingError(f"no rendezvous at {address} ({first_line(exc)}); {_LAUNCH_HINT}") from exc
    return replace(cluster, cpu_group=dist.new_group(backend="gloo") if backend == "nccl" else None)


def leave(cluster: Cluster) -> None:
    if cluster.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            # DDP wrappers left in reference cycles must go before their process group does:
            # one freed later, at interpreter exit, aborts the process ("terminate called ...").
            import gc

            gc.collect()
            dist.destroy_process_group()


def barrier(cluster: Cluster) -> None:
    if cluster.distributed:
        import torch.distributed as dist

        if dist.get_backend() == "nccl":  # name the GPU, or nccl guesses it (with a warning)
            dist.barrier(device_ids=[cluster.local_rank])
        else:
            dist.barrier()


def any_rank(cluster: Cluster, flag: bool) -> bool:
    """True on every rank when `flag` is true on any rank (a CPU all-reduce of one number)."""
    if not cluster.distributed:
        return flag
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([int(flag)], dtype=torch.int32)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=cluster.cpu_group)
    return bool(tensor.item())


def sum_over_ranks(cluster: Cluster, values: list[float], device: str) -> list[float]:
    """Element-wise sum of `values` over every rank (one small all-reduce; a host sync)."""
    if not cluster.distributed:
        return list(values)
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64 if device == "cpu" else torch.float32, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def text_from_main(cluster: Cluster, text: str | None, device: str) -> str | None:
    """Rank 0's `text` on every rank, sent as UTF-8 bytes (no pickling); None stays None."""
    if not cluster.distributed:
        return text
    import torch
    import torch.distributed as dist

    data = b"" if text is None else text.encode("utf-8")
    size = torch.tensor([len(data) if text is not None else -1], dtype=torch.long, device=device)
    dist.broadcast(size, src=0)
    n = int(size.item())
    if n < 0:
        return None
    buffer = torch.zeros(n, dtype=torch.uint8, device=device)
    if cluster.is_main:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=0)
    return buffer.cpu().numpy().tobytes().decode("utf-8")

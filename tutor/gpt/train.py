"""The training loop of `tutor train`: plain PyTorch, nanoGPT's recipe.

AdamW (weight decay on matrices only), linear warmup then cosine decay to `min_lr`, gradient
clipping, and a loss estimate on fixed train/val batches every `eval_every` steps. The loop
reads the loss back from the device only every `log_every` steps. Progress goes to an
`on_event` callback; this module prints nothing.

A stop request (the `stop` event, or Ctrl-C, which sets it) ends the run at the next step
boundary with a checkpoint, so `--resume` continues exactly where it stopped.

Under torchrun every process runs this loop on its shard of each global batch; rank 0 alone
evaluates, reports events and writes files (`tutor.gpt.distributed`).
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from tutor.errors import TrainingError
from tutor.gpt import checkpoint as ckpt
from tutor.gpt.distributed import Cluster, any_rank, barrier, sum_over_ranks
from tutor.gpt.presets import TrainConfig, validate
from tutor.gpt.setup import build_run


@dataclass
class TrainEvent:
    """What the loop reports: kind is "start", "step" (every log_every steps) or "eval"."""

    kind: str
    step: int
    steps: int
    train_loss: float | None = None
    val_loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    out: Path
    step: int
    steps: int
    interrupted: bool
    summary: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)  # what the run reported at its start


def lr_at(step: int, c: TrainConfig) -> float:
    """nanoGPT's schedule: linear warmup, then cosine from lr to min_lr at `steps`."""
    if step < c.warmup_steps:
        return c.lr * (step + 1) / (c.warmup_steps + 1)
    if step > c.steps:
        return c.min_lr
    ratio = (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
    return c.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c.lr - c.min_lr)


def make_step(run) -> Callable[[float], Any]:
    """One optimizer step at learning rate `lr`; returns this process's loss as a device tensor (no sync).

    The step runs `grad_accum` micro-batches, this process's shard of the global batch. Under
    torchrun the model is wrapped in DDP, which averages the gradients over the processes
    during the last micro-batch's backward pass (`no_sync` skips the earlier ones).
    """
    import torch

    c, model, opt, cluster = run.config, run.model, run.optimizer, run.cluster
    forward = torch.compile(model) if c.compile else model
    if cluster.distributed:
        from torch.nn.parallel import DistributedDataParallel

        forward = DistributedDataParallel(forward, device_ids=[cluster.local_rank] if run.device.startswith("cuda") else None)
    params = [p for p in model.parameters() if p.requires_grad]
    micro_batches, first = c.grad_accum * cluster.world_size, c.grad_accum * cluster.rank

    def step(lr: float):
        for group in opt.param_groups:
            group["lr"] = lr
        shard = run.batches.shard("train", run.generator, micro_batches=micro_batches, first=first, count=c.grad_accum)
        total = torch.zeros((), device=run.device)
        for i, (x, y) in enumerate(shard):
            last = i == len(shard) - 1
            with contextlib.nullcontext() if last or not cluster.distributed else forward.no_sync():
                with run.autocast():
                    _, loss = forward(x, y)
                loss = loss / c.grad_accum  # the gradient of the mean over the micro-batches
                loss.backward()
            total += loss.detach().float()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, c.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return total

    return step


@dataclass
class _State:
    step: int = 0
    elapsed: float = 0.0  # seconds of training before this process (resume)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def train(
    data: Sequence[str | Path],
    out: Path,
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    on_event: Callable[[TrainEvent], None] | None = None,
    stop: threading.Event | None = None,
    cluster: Cluster | None = None,
    keep_checkpoint: bool = True,
    fit_block_size: bool = False,
) -> TrainResult:
    """Train (or fine-tune) on `data` and write a transformers model into `out`.

    Args:
        data: text files, or folders of .txt/.md files.
        out: the run's directory (see `tutor.gpt.checkpoint` for its layout).
        config: from `resolve_config`, or `config_for_resume` when resuming.
        resume: continue from `out/checkpoint.pt` (same data, same fixed settings).
        overwrite: replace an existing `out`.
        on_event: told about progress (rank 0 only); called from this thread.
        stop: set it to end the run at the next step with a checkpoint (Ctrl-C sets it too).
            Under torchrun the processes agree on stopping after every step.
        cluster: this process's rank (`distributed.cluster_from_env`); one process when None.
            The caller has joined the process group.
        keep_checkpoint: False writes no checkpoint.pt (no optimizer state on disk; no --resume).
        fit_block_size: see `setup.build_run`.

    Raises:
        TrainingError: bad data or settings, or the loss became NaN or infinite (the last
            checkpoint, written at the last good evaluation, is left as it was).
    """
    import torch

    cluster = cluster or Cluster()
    emit = (on_event or (lambda event: None)) if cluster.is_main else (lambda event: None)
    stop = stop or threading.Event()
    validate(config)
    run = build_run(data, out, config, resume=resume, overwrite=overwrite, cluster=cluster, fit_block_size=fit_block_size)
    c, model = run.config, run.model
    state = _State()
    if run.saved is not None:
        state = _State(run.saved["step"], run.saved["elapsed"], list(run.saved["metrics"]))
    step_fn = make_step(run)
    tokens_per_step = run.global_batch * c.block_size
    eval_seed = c.seed + 1  # fixed eval batches: losses at different steps compare fairly

    @torch.no_grad()
    def estimate() -> dict[str, float]:
        model.eval()
        losses = {}
        for split in ("train", "val"):
            g = torch.Generator().manual_seed(eval_seed)
            total = torch.zeros((), device=run.device)
            for _ in range(c.eval_batches):
                x, y = run.batches.get(split, g)
                with run.autocast():
                    total += model(x, y)[1].float()
            losses[split] = (total / c.eval_batches).item()
        model.train()
        return losses

    def save_state() -> None:
        if keep_checkpoint:
            ckpt.save_checkpoint(out, run.checkpoint_state(state.step, state.elapsed + clock(), state.metrics))
        _write_metrics(out, state.metrics)

    def evaluate() -> None:
        losses = estimate()
        _check_finite(losses["val"], state.step, c, out, keep_checkpoint)
        row = dict(step=state.step, train_loss=losses["train"], val_loss=losses["val"], lr=lr_at(state.step, c),
                   tokens_per_s=None, elapsed_s=round(state.elapsed + clock(), 3))  # fmt: skip
        state.metrics = [m for m in state.metrics if not (m["step"] == state.step and m["val_loss"] is not None)]
        state.metrics.append(row)
        emit(TrainEvent("eval", state.step, c.steps, losses["train"], losses["val"], row["lr"], None, row["elapsed_s"]))
        save_state()

    started = time.perf_counter()
    eval_time = 0.0

    def clock() -> float:
        return time.perf_counter() - started

    emit(TrainEvent("start", state.step, c.steps, elapsed_s=state.elapsed, info=run.info))
    restore = _install_stop_signals(stop, also_sigterm=cluster.distributed)
    interrupted = False
    try:
        loss_sum = torch.zeros((), device=run.device)
        n_logged, last_log, last_step = 0, clock(), state.step
        evaluated = {m["step"] for m in state.metrics if m["val_loss"] is not None}
        while state.step < c.steps:
            if state.step % c.eval_every == 0 and state.step not in evaluated and cluster.is_main:
                t = clock()
                evaluate()
                eval_time += clock() - t
                last_log += clock() - t
            lr = lr_at(state.step, c)
            loss_sum += step_fn(lr)
            n_logged += 1
            state.step += 1
            # Several processes agree on stopping after every step: torchrun gives them 30 s
            # after a Ctrl-C before it kills them, so a stop cannot wait for the next log point.
            stopping = any_rank(cluster, stop.is_set()) if cluster.distributed else stop.is_set()
            if state.step % c.log_every == 0 or state.step == c.steps or stopping:
                total = sum_over_ranks(cluster, [loss_sum.item()], run.device)[0]
                train_loss = total / (n_logged * cluster.world_size)  # the only host sync between evals
                _check_finite(train_loss, state.step, c, out, keep_checkpoint)
                now = clock()
                tps = tokens_per_step * (state.step - last_step) / max(now - last_log, 1e-9)
                state.metrics.append(dict(step=state.step, train_loss=train_loss, val_loss=None, lr=lr,
                                          tokens_per_s=round(tps, 1), elapsed_s=round(state.elapsed + now, 3)))  # fmt: skip
                emit(TrainEvent("step", state.step, c.steps, train_loss, None, lr, tps, state.elapsed + now))
                loss_sum.zero_()
                n_logged, last_log, last_step = 0, now, state.step
                if stopping or (not cluster.distributed and stop.is_set()):  # (or set by on_event)
                    interrupted = True
                    break
        if not interrupted and cluster.is_main:
            evaluate()  # at the end of every run, whatever eval_every is
    finally:
        restore()
    if interrupted:
        if cluster.is_main:
            save_state()
        barrier(cluster)
        return TrainResult(out, state.step, c.steps, True, {}, run.info)
    summary: dict[str, Any] = {}
    if cluster.is_main:
        summary = run.summary(state.step, state.metrics, wall_s=state.elapsed + clock(), run_s=clock(),
                              eval_s=eval_time)  # fmt: skip
        run.save_final(summary, state.metrics)
        if not keep_checkpoint:
            ckpt.remove_checkpoint(out)
    barrier(cluster)
    return TrainResult(out, state.step, c.steps, False, summary, run.info)


def _check_finite(loss: float, step: int, c: TrainConfig, out: Path, keep_checkpoint: bool) -> None:
    """A NaN or infinite loss ends the run before anything is written over the last good state."""
    if math.isfinite(loss):
        return
    kept = f"the checkpoint in {out} from the last good evaluation is kept" if keep_checkpoint else "nothing was saved"
    raise TrainingError(
        f"the loss became {loss} at step {step}: training diverged; {kept}; "
        f"start again with --overwrite and a lower --lr (this run used {c.lr:g})"
    )


def _write_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    columns = ("step", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s")
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join("" if row.get(k) is None else str(row[k]) for k in columns))
    ckpt.write_text(out / "metrics.csv", "\n".join(lines) + "\n")


def _install_stop_signals(stop: threading.Event, *, also_sigterm: bool = False) -> Callable[[], None]:
    """First Ctrl-C sets `stop` (checkpoint at the next step); a second one interrupts at once.

    Under torchrun, SIGTERM sets `stop` too and never escalates: torchrun passes on a Ctrl-C
    as a signal to every worker and gives them 30 s to finish before it kills them.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    signals = [signal.SIGINT] + ([signal.SIGTERM] if also_sigterm else [])
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handler(signum, frame):  # noqa: ARG001
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    for sig in signals:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore

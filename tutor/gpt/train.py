"""The training loop of `tutor train`: plain PyTorch, nanoGPT's recipe.

AdamW (weight decay on matrices only), linear warmup then cosine decay to `min_lr`, gradient
clipping, and a loss estimate on fixed train/val batches every `eval_every` steps. The loop
reads the loss back from the device only every `log_every` steps. Progress goes to an
`on_event` callback; this module prints nothing.

A stop request (the `stop` event, or Ctrl-C, which sets it) ends the run at the next step
boundary with a checkpoint, so `--resume` continues exactly where it stopped.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from tutor.errors import TrainingError
from tutor.gpt import checkpoint as ckpt
from tutor.gpt.presets import FIXED_ON_RESUME, TrainConfig, validate
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


def lr_at(step: int, c: TrainConfig) -> float:
    """nanoGPT's schedule: linear warmup, then cosine from lr to min_lr at `steps`."""
    if step < c.warmup_steps:
        return c.lr * (step + 1) / (c.warmup_steps + 1)
    if step > c.steps:
        return c.min_lr
    ratio = (step - c.warmup_steps) / max(1, c.steps - c.warmup_steps)
    return c.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c.lr - c.min_lr)


def make_step(run) -> Callable[[float], Any]:
    """One optimizer step at learning rate `lr`; returns the loss as a device tensor (no sync)."""
    import torch

    c, model, opt = run.config, run.model, run.optimizer
    forward = torch.compile(model) if c.compile else model
    params = [p for p in model.parameters() if p.requires_grad]

    def step(lr: float):
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = run.batches.get("train", run.generator)
        with run.autocast():
            _, loss = forward(x, y)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, c.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach().float()

    return step


def config_for_resume(out: Path, **overrides: Any) -> TrainConfig:
    """The saved run's config with `overrides` (flags given now) applied.

    Raises:
        TrainingError: no checkpoint, or a flag changes something a resumed run cannot change.
    """
    if not (out / ckpt.CHECKPOINT).is_file():
        raise TrainingError(f"nothing to resume: {out / ckpt.CHECKPOINT} does not exist; drop --resume to start a new run")
    saved = TrainConfig.from_dict(ckpt.load_checkpoint(out)["config"])
    given = {k: v for k, v in overrides.items() if v is not None}
    for name, value in given.items():
        if name in FIXED_ON_RESUME and value != getattr(saved, name):
            flag = "--" + name.replace("_", "-")
            raise TrainingError(
                f"{flag} {value} does not match the checkpoint's {getattr(saved, name)}; "
                f"drop {flag} to resume, or start a new run with --overwrite"
            )
    config = replace(saved, **given)
    validate(config)
    return config


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
) -> TrainResult:
    """Train (or fine-tune) on `data` and write a transformers model into `out`.

    Args:
        data: text files, or folders of .txt/.md files.
        out: the run's directory (see `tutor.gpt.checkpoint` for its layout).
        config: from `resolve_config`, or `config_for_resume` when resuming.
        resume: continue from `out/checkpoint.pt` (same data, same fixed settings).
        overwrite: replace an existing `out`.
        on_event: told about progress; called from this thread.
        stop: set it to end the run at the next step with a checkpoint (Ctrl-C sets it too).
    """
    import torch

    emit = on_event or (lambda event: None)
    stop = stop or threading.Event()
    validate(config)
    run = build_run(data, out, config, resume=resume, overwrite=overwrite)
    c, model = run.config, run.model
    state = _State()
    if run.saved is not None:
        state = _State(run.saved["step"], run.saved["elapsed"], list(run.saved["metrics"]))
    step_fn = make_step(run)
    tokens_per_step = c.batch_size * c.block_size
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
        ckpt.save_checkpoint(out, run.checkpoint_state(state.step, state.elapsed + clock(), state.metrics))
        _write_metrics(out, state.metrics)

    def evaluate() -> None:
        losses = estimate()
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
    restore = _install_sigint(stop)
    interrupted = False
    try:
        loss_sum = torch.zeros((), device=run.device)
        n_logged, last_log, last_step = 0, clock(), state.step
        evaluated = {m["step"] for m in state.metrics if m["val_loss"] is not None}
        while state.step < c.steps:
            if state.step % c.eval_every == 0 and state.step not in evaluated:
                t = clock()
                evaluate()
                eval_time += clock() - t
                last_log += clock() - t
            lr = lr_at(state.step, c)
            loss_sum += step_fn(lr)
            n_logged += 1
            state.step += 1
            if state.step % c.log_every == 0 or state.step == c.steps or stop.is_set():
                train_loss = (loss_sum / n_logged).item()  # the only host sync between evals
                now = clock()
                tps = tokens_per_step * (state.step - last_step) / max(now - last_log, 1e-9)
                state.metrics.append(dict(step=state.step, train_loss=train_loss, val_loss=None, lr=lr,
                                          tokens_per_s=round(tps, 1), elapsed_s=round(state.elapsed + now, 3)))  # fmt: skip
                emit(TrainEvent("step", state.step, c.steps, train_loss, None, lr, tps, state.elapsed + now))
                loss_sum.zero_()
                n_logged, last_log, last_step = 0, now, state.step
            if stop.is_set():
                interrupted = True
                break
        if not interrupted:
            evaluate()
    finally:
        restore()
    if interrupted:
        save_state()
        return TrainResult(out, state.step, c.steps, True, {})
    summary = run.summary(state.step, state.metrics, wall_s=state.elapsed + clock(), run_s=clock(),
                          eval_s=eval_time)  # fmt: skip
    run.save_final(summary, state.metrics)
    return TrainResult(out, state.step, c.steps, False, summary)


def _write_metrics(out: Path, rows: list[dict[str, Any]]) -> None:
    columns = ("step", "train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s")
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join("" if row.get(k) is None else str(row[k]) for k in columns))
    ckpt.write_text(out / "metrics.csv", "\n".join(lines) + "\n")


def _install_sigint(stop: threading.Event) -> Callable[[], None]:
    """First Ctrl-C sets `stop` (checkpoint at the next step); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):  # noqa: ARG001
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)

